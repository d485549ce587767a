/**
 * Registration policies: when a GPU region is registered with cuFileBufRegister, and when a host
 * region is page-locked with cudaHostRegister. Pure.
 *
 * cuFileBufRegister pins the buffer in the GPU's BAR space so the direct path DMAs straight into
 * it; without it cuFile stages through its own registered bounce buffers (an extra on-GPU copy).
 * It "incurs a significant performance cost, so registration costs should be amortized" and is
 * bounded by max_device_pinned_mem_size (cuFile API Reference §4.5, §5.1.7) — so 'auto' registers
 * a region once, when the Mover first submits work naming it, while the total stays under that
 * budget, and records each refusal instead of failing the registration.
 */

export type BufRegisterPolicy = 'auto' | 'always' | 'never';

export interface BufRegisterInput {
  readonly policy: BufRegisterPolicy;
  readonly length: number;
  /** Bytes this session already registered. */
  readonly registeredBytes: number;
  /** max_device_pinned_mem_size in bytes (cuFileDriverGetProperties), when known. */
  readonly pinnedBudget?: number | undefined;
}

export function bufRegisterDecision(i: BufRegisterInput): { register: boolean; why: string } {
  if (i.length === 0) return { register: false, why: 'empty region' };
  if (i.policy === 'never') return { register: false, why: "bufRegister: 'never'" };
  if (i.policy === 'always') return { register: true, why: "bufRegister: 'always'" };
  if (i.pinnedBudget !== undefined && i.registeredBytes + i.length > i.pinnedBudget) {
    return { register: false, why: `would exceed max_device_pinned_mem_size (${i.registeredBytes} + ${i.length} > ${i.pinnedBudget} bytes)` };
  }
  return { register: true, why: 'within the pinned-memory budget' };
}

/** Host regions at least this large are page-locked (cudaHostRegister) while registered. */
export const DEFAULT_PIN_HOST_MIN_BYTES = 1024 * 1024;

export function pinHostDecision(policy: 'auto' | 'never', length: number, minBytes = DEFAULT_PIN_HOST_MIN_BYTES): boolean {
  return policy === 'auto' && length >= minBytes;
}
