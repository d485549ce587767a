/**
 * The SDXI function as the producer sees it: a BAR0 register file, a BAR2 doorbell region, memory
 * it reaches by device address, address spaces for data, and interrupts. The software function
 * (software-function.ts) implements it today; a real SDXI device mapped through a kernel
 * interface would implement the same interface (docs/sdxi.md says what that interface needs).
 */
import type { HostMemory } from '@datamover/core';

/** Memory the function reaches, holding SDXI structures. */
export interface DmaBuffer {
  /** Device address of the first byte: what SDXI pointer fields hold. */
  readonly address: bigint;
  /** The shared memory behind it and the byte offset there. */
  readonly buffer: SharedArrayBuffer;
  readonly offset: number;
  readonly length: number;
}

/** BAR0: 64-bit registers, accessed as readq / writeq. */
export interface Mmio {
  read64(offset: number): bigint;
  write64(offset: number, value: bigint): void;
}

export interface SdxiFunction {
  /** 'software': emulated on the CPU; 'hardware': a device. */
  readonly kind: 'software' | 'hardware';
  /** In words, for `datamover info` and stats. */
  readonly description: string;
  readonly mmio: Mmio;
  /** Writes `value` (the new Write_Index) to context `context`'s doorbell in BAR2. */
  doorbell(context: number, value: bigint): void;
  /** Zeroed memory for SDXI structures, aligned to `alignment` (a power of two) bytes. */
  allocate(bytes: number, alignment: number): DmaBuffer;
  /**
   * Makes host memory an address space the function reaches through AKeys (pv = 1, pasid);
   * descriptor addresses are then byte offsets in it. Returns the PASID.
   */
  bindAddressSpace(memory: HostMemory, writable: boolean): number;
  unbindAddressSpace(pasid: number): void;
  /** Operation groups it runs beyond SDXI 1.0's (the software function: Datamover's 0x700). */
  readonly vendorGroups: readonly number[];
  /** Receives the interrupts the function raises (vector = an AKey's intr_num; 0 = error log). */
  onInterrupt(handler: (vector: number) => void): void;
  /** Keeps the process alive while true (an interrupt is awaited). */
  hold(active: boolean): void;
  close(): void;
}
