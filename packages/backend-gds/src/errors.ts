/**
 * Error mapping: every CUfileError_t (CUfileOpError + CUresult), cudaError_t and CUresult the
 * backend meets becomes a DatamoverError with the library's own code, name and text in `detail`
 * (`{ library, code, name, text }`). Pure: the names and texts here are the fallback; where the
 * library is loaded, its own text (cudaGetErrorString, cuGetErrorString, cufileop_status_error)
 * is preferred.
 *
 * Sources: cuFile API Reference Guide §4.1.3 (enum CUfileOpError, values and meanings);
 * CUDA Runtime API, enum cudaError; CUDA Driver API, enum cudaError_enum (CUresult).
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { BACKEND_STATUS_BASE, datamoverError, ErrorCode, nativeError, type DatamoverError, type EngineErrorInfo, type NativeErrorMap } from '@datamover/core';

/** Which library an error code belongs to. `errno`: a POSIX error from a cuFile I/O call. */
export type GdsLibrary = 'cufile' | 'cudart' | 'cuda' | 'errno';

/** The `detail` every gds library error carries (besides core's `backend` and `status`). */
export type LibraryErrorDetail = {
  readonly library: GdsLibrary;
  readonly code: number;
  readonly name: string;
  readonly text: string;
  /** For CU_FILE_CUDA_DRIVER_ERROR: the CUDA driver error inside it. */
  readonly cuError?: { readonly code: number; readonly name: string; readonly text: string };
  readonly errno?: number;
};

/** Completion statuses of the gds engine (core's backend-defined range). */
export const GDS_STATUS = {
  /** detail: CUfileOpError; result: the CUresult when detail is CU_FILE_CUDA_DRIVER_ERROR. */
  CUFILE: BACKEND_STATUS_BASE,
  /** detail: cudaError_t. */
  CUDART: BACKEND_STATUS_BASE + 1,
  /** detail: CUresult. */
  CUDA: BACKEND_STATUS_BASE + 2,
} as const;

/** CUFILEOP_BASE_ERR: cuFile's own codes are above it; smaller negative returns are errnos. */
export const CUFILEOP_BASE_ERR = 5000;
/** CU_FILE_CUDA_DRIVER_ERROR: `cu_err` holds the CUresult. */
export const CU_FILE_CUDA_DRIVER_ERROR = 5011;

/** A library's error codes: code → [name, text]. */
export type ErrorTable = Readonly<Record<number, readonly [name: string, text: string]>>;

/** enum CUfileOpError (cuFile API Reference §4.1.3). */
export const CUFILE_OP_ERRORS: ErrorTable = {
  0: ['CU_FILE_SUCCESS', 'success'],
  5001: ['CU_FILE_DRIVER_NOT_INITIALIZED', 'the nvidia-fs driver is not loaded'],
  5002: ['CU_FILE_DRIVER_INVALID_PROPS', 'invalid property'],
  5003: ['CU_FILE_DRIVER_UNSUPPORTED_LIMIT', 'property range error'],
  5004: ['CU_FILE_DRIVER_VERSION_MISMATCH', 'nvidia-fs driver version mismatch'],
  5005: ['CU_FILE_DRIVER_VERSION_READ_ERROR', 'nvidia-fs driver version read error'],
  5006: ['CU_FILE_DRIVER_CLOSING', 'driver shutdown in progress'],
  5007: ['CU_FILE_PLATFORM_NOT_SUPPORTED', 'GDS is not supported on this platform'],
  5008: ['CU_FILE_IO_NOT_SUPPORTED', 'GDS is not supported on this file'],
  5009: ['CU_FILE_DEVICE_NOT_SUPPORTED', 'GDS is not supported on this GPU'],
  5010: ['CU_FILE_NVFS_DRIVER_ERROR', 'nvidia-fs driver ioctl error'],
  5011: ['CU_FILE_CUDA_DRIVER_ERROR', 'CUDA driver API error'],
  5012: ['CU_FILE_CUDA_POINTER_INVALID', 'invalid device pointer'],
  5013: ['CU_FILE_CUDA_MEMORY_TYPE_INVALID', 'invalid pointer memory type'],
  5014: ['CU_FILE_CUDA_POINTER_RANGE_ERROR', 'pointer range exceeds the allocated address range'],
  5015: ['CU_FILE_CUDA_CONTEXT_MISMATCH', 'CUDA context mismatch'],
  5016: ['CU_FILE_INVALID_MAPPING_SIZE', 'access beyond the maximum pinned memory size'],
  5017: ['CU_FILE_INVALID_MAPPING_RANGE', 'access beyond the mapped size'],
  5018: ['CU_FILE_INVALID_FILE_TYPE', 'unsupported file type'],
  5019: ['CU_FILE_INVALID_FILE_OPEN_FLAG', 'unsupported file open flags'],
  5020: ['CU_FILE_DIO_NOT_SET', 'O_DIRECT is not set on the file descriptor'],
  5021: ['CU_FILE_EXPECTED_FILE_MODE', 'unexpected file mode'],
  5022: ['CU_FILE_INVALID_VALUE', 'invalid API arguments'],
  5023: ['CU_FILE_MEMORY_ALREADY_REGISTERED', 'device pointer already registered'],
  5024: ['CU_FILE_MEMORY_NOT_REGISTERED', 'device pointer lookup failure'],
  5025: ['CU_FILE_PERMISSION_DENIED', 'driver or file access error'],
  5026: ['CU_FILE_DRIVER_ALREADY_OPEN', 'driver is already open'],
  5027: ['CU_FILE_HANDLE_NOT_REGISTERED', 'file descriptor is not registered'],
  5028: ['CU_FILE_HANDLE_ALREADY_REGISTERED', 'file descriptor is already registered'],
  5029: ['CU_FILE_DEVICE_NOT_FOUND', 'GPU device not found'],
  5030: ['CU_FILE_INTERNAL_ERROR', 'internal error (see cufile.log)'],
  5031: ['CU_FILE_GETNEWFD_FAILED', 'failed to obtain a new file descriptor'],
  5033: ['CU_FILE_NVFS_SETUP_ERROR', 'nvidia-fs driver initialization error'],
  5034: ['CU_FILE_IO_DISABLED', 'GDS is disabled by configuration for this file'],
  5035: ['CU_FILE_BATCH_SUBMIT_FAILED', 'failed to submit a batch operation'],
  5036: ['CU_FILE_GPU_MEMORY_PINNING_FAILED', 'failed to allocate pinned GPU memory'],
  5037: ['CU_FILE_BATCH_FULL', 'queue full for batch operation'],
  5038: ['CU_FILE_ASYNC_NOT_SUPPORTED', 'cuFile stream operation not supported'],
  5039: ['CU_FILE_INTERNAL_BATCH_SETUP_ERROR', 'batch setup internal error, retry later'],
  5040: ['CU_FILE_INTERNAL_BATCH_SUBMIT_ERROR', 'batch submit internal error, retry later'],
  5041: ['CU_FILE_INTERNAL_BATCH_GETSTATUS_ERROR', 'batch get-status internal error, retry later'],
  5042: ['CU_FILE_INTERNAL_BATCH_CANCEL_ERROR', 'batch cancel internal error, retry later'],
  5043: ['CU_FILE_NOMEM_ERROR', 'out of memory, retry later'],
  5044: ['CU_FILE_IO_ERROR', 'I/O error'],
  5045: ['CU_FILE_INTERNAL_BUF_REGISTER_ERROR', 'buffer registration error'],
  5046: ['CU_FILE_HASH_OPR_ERROR', 'hash operation error'],
  5047: ['CU_FILE_INVALID_CONTEXT_ERROR', 'invalid context'],
  5048: ['CU_FILE_NVFS_INTERNAL_DRIVER_ERROR', 'nvidia-fs internal driver error'],
  5049: ['CU_FILE_BATCH_NOCOMPAT_ERROR', 'compatibility mode is off'],
  5050: ['CU_FILE_IO_MAX_ERROR', 'maximum error code'],
};

/** enum cudaError (CUDA Runtime API): the codes this backend is likely to meet. */
export const CUDA_RUNTIME_ERRORS: ErrorTable = {
  0: ['cudaSuccess', 'no error'],
  1: ['cudaErrorInvalidValue', 'invalid argument'],
  2: ['cudaErrorMemoryAllocation', 'out of memory'],
  3: ['cudaErrorInitializationError', 'initialization error'],
  4: ['cudaErrorCudartUnloading', 'the CUDA runtime is unloading'],
  17: ['cudaErrorInvalidDevicePointer', 'invalid device pointer'],
  21: ['cudaErrorInvalidMemcpyDirection', 'invalid copy direction for memcpy'],
  34: ['cudaErrorStubLibrary', 'a CUDA stub library was loaded instead of the real driver'],
  35: ['cudaErrorInsufficientDriver', 'CUDA driver version is insufficient for CUDA runtime version'],
  36: ['cudaErrorCallRequiresNewerDriver', 'the API call requires a newer CUDA driver'],
  46: ['cudaErrorDevicesUnavailable', 'CUDA-capable device(s) busy or unavailable'],
  100: ['cudaErrorNoDevice', 'no CUDA-capable device is detected'],
  101: ['cudaErrorInvalidDevice', 'invalid device ordinal'],
  201: ['cudaErrorDeviceUninitialized', 'invalid device context'],
  214: ['cudaErrorECCUncorrectable', 'uncorrectable ECC error encountered'],
  217: ['cudaErrorPeerAccessUnsupported', 'peer access is not supported between these two devices'],
  304: ['cudaErrorOperatingSystem', 'OS call failed or operation not supported on this OS'],
  400: ['cudaErrorInvalidResourceHandle', 'invalid resource handle'],
  600: ['cudaErrorNotReady', 'device not ready'],
  700: ['cudaErrorIllegalAddress', 'an illegal memory access was encountered'],
  709: ['cudaErrorContextIsDestroyed', 'context is destroyed'],
  712: ['cudaErrorHostMemoryAlreadyRegistered', 'part or all of the requested memory range is already mapped'],
  713: ['cudaErrorHostMemoryNotRegistered', 'pointer does not correspond to a registered memory region'],
  719: ['cudaErrorLaunchFailure', 'unspecified launch failure'],
  800: ['cudaErrorNotPermitted', 'operation not permitted'],
  801: ['cudaErrorNotSupported', 'operation not supported'],
  802: ['cudaErrorSystemNotReady', 'system not yet initialized'],
  803: ['cudaErrorSystemDriverMismatch', 'system has unsupported display driver / cuda driver combination'],
  999: ['cudaErrorUnknown', 'unknown error'],
};

/** enum cudaError_enum / CUresult (CUDA Driver API): the codes this backend is likely to meet. */
export const CUDA_DRIVER_ERRORS: ErrorTable = {
  0: ['CUDA_SUCCESS', 'no error'],
  1: ['CUDA_ERROR_INVALID_VALUE', 'invalid argument'],
  2: ['CUDA_ERROR_OUT_OF_MEMORY', 'out of memory'],
  3: ['CUDA_ERROR_NOT_INITIALIZED', 'initialization error'],
  4: ['CUDA_ERROR_DEINITIALIZED', 'driver shutting down'],
  34: ['CUDA_ERROR_STUB_LIBRARY', 'CUDA driver is a stub library'],
  100: ['CUDA_ERROR_NO_DEVICE', 'no CUDA-capable device is detected'],
  101: ['CUDA_ERROR_INVALID_DEVICE', 'invalid device ordinal'],
  201: ['CUDA_ERROR_INVALID_CONTEXT', 'invalid device context'],
  400: ['CUDA_ERROR_INVALID_HANDLE', 'invalid resource handle'],
  500: ['CUDA_ERROR_NOT_FOUND', 'named symbol not found'],
  700: ['CUDA_ERROR_ILLEGAL_ADDRESS', 'an illegal memory access was encountered'],
  709: ['CUDA_ERROR_CONTEXT_IS_DESTROYED', 'context is destroyed'],
  719: ['CUDA_ERROR_LAUNCH_FAILED', 'unspecified launch failure'],
  800: ['CUDA_ERROR_NOT_PERMITTED', 'operation not permitted'],
  801: ['CUDA_ERROR_NOT_SUPPORTED', 'operation not supported'],
  999: ['CUDA_ERROR_UNKNOWN', 'unknown error'],
};

const TABLES: Record<Exclude<GdsLibrary, 'errno'>, ErrorTable> = { cufile: CUFILE_OP_ERRORS, cudart: CUDA_RUNTIME_ERRORS, cuda: CUDA_DRIVER_ERRORS };
const UNKNOWN_PREFIX: Record<Exclude<GdsLibrary, 'errno'>, string> = { cufile: 'CUfileOpError', cudart: 'cudaError', cuda: 'CUresult' };

/** Live name/text from the loaded library, when there is one (the addon's errorText). */
export type NativeText = (library: 'cufile' | 'cudart' | 'cuda', code: number) => { name?: string; text?: string } | undefined;

/** Name and text of a library code: the library's own when `native` knows it, else the table's. */
export function describeCode(library: GdsLibrary, code: number, native?: NativeText): { name: string; text: string } {
  if (library === 'errno') return errnoText(code);
  const own = native?.(library, code);
  const row = TABLES[library][code];
  return {
    name: own?.name || row?.[0] || `${UNKNOWN_PREFIX[library]} ${code}`,
    text: own?.text || row?.[1] || `unknown ${UNKNOWN_PREFIX[library]} ${code}`,
  };
}

/** The `detail` of a library error; `cuErr` is the CUresult inside CU_FILE_CUDA_DRIVER_ERROR. */
export function libraryErrorDetail(library: GdsLibrary, code: number, options: { cuErr?: number; native?: NativeText } = {}): LibraryErrorDetail {
  const { name, text } = describeCode(library, code, options.native);
  const base = { library, code, name, text, ...(library === 'errno' ? { errno: code } : {}) };
  if (library === 'cufile' && code === CU_FILE_CUDA_DRIVER_ERROR && options.cuErr !== undefined && options.cuErr !== 0) {
    return { ...base, cuError: { code: options.cuErr, ...describeCode('cuda', options.cuErr, options.native) } };
  }
  return base;
}

/** The core ErrorCode a library error is reported as. */
export function errorCodeFor(library: GdsLibrary, code: number): ErrorCode {
  switch (library) {
    case 'errno':
      return ErrorCode.IO_ERROR;
    case 'cudart':
      return code === 2 ? ErrorCode.OUT_OF_MEMORY : ErrorCode.DEVICE_ERROR;
    case 'cuda':
      return code === 2 ? ErrorCode.OUT_OF_MEMORY : ErrorCode.DEVICE_ERROR;
    case 'cufile':
      // File-side failures are I/O errors; allocation/pinning failures are out-of-memory;
      // everything about the driver, the GPU or the API is a device error.
      if ([5008, 5018, 5019, 5020, 5021, 5025, 5027, 5034, 5044].includes(code)) return ErrorCode.IO_ERROR;
      if ([5036, 5043].includes(code)) return ErrorCode.OUT_OF_MEMORY;
      return ErrorCode.DEVICE_ERROR;
  }
}

/** The error for one library failure; `what` says which call failed. */
export function libraryError(library: GdsLibrary, code: number, what: string, options: { cuErr?: number; native?: NativeText; cause?: unknown } = {}): DatamoverError {
  const detail = libraryErrorDetail(library, code, options);
  const inner = detail.cuError ? ` [${detail.cuError.name} (${detail.cuError.code}): ${detail.cuError.text}]` : '';
  return datamoverError(errorCodeFor(library, code), `${what}: ${detail.name} (${code}): ${detail.text}${inner}`, {
    detail: { backend: 'gds', ...detail },
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
}

/**
 * What a negative cuFileRead / cuFileWrite return value means (cuFile API Reference §5.2.3): -1 is
 * an errno (set by the call), other values are -CUfileOpError, and some versions return -errno.
 */
export function fromIoReturn(ret: number, errno: number): { library: 'cufile' | 'errno'; code: number } {
  if (ret >= 0) throw new RangeError(`not an error return: ${ret}`);
  if (ret === -1) return { library: 'errno', code: errno };
  if (-ret > CUFILEOP_BASE_ERR) return { library: 'cufile', code: -ret };
  return { library: 'errno', code: -ret };
}

/** The error a gds completion status stands for (core calls this through the session). */
export function describeCompletion(status: number, detail: number, result: number, native?: NativeText): EngineErrorInfo | undefined {
  let library: Exclude<GdsLibrary, 'errno'>;
  if (status === GDS_STATUS.CUFILE) library = 'cufile';
  else if (status === GDS_STATUS.CUDART) library = 'cudart';
  else if (status === GDS_STATUS.CUDA) library = 'cuda';
  else return undefined;
  const d = libraryErrorDetail(library, detail, { ...(library === 'cufile' ? { cuErr: result } : {}), ...(native ? { native } : {}) });
  const inner = d.cuError ? ` [${d.cuError.name} (${d.cuError.code}): ${d.cuError.text}]` : '';
  return { code: errorCodeFor(library, detail), message: `${library} error ${d.name} (${detail}): ${d.text}${inner}`, detail: d };
}

/**
 * How the addon's errors become DatamoverErrors (core's nativeError): library errors (code
 * CUDART_ERROR, CUFILE_ERROR, CUDA_ERROR with `libraryCode`) keep the library's code and text
 * (`native`: the loaded library's own); the addon's other codes map to core codes of the same name.
 */
export function gdsErrorMap(native?: NativeText): NativeErrorMap {
  return { backend: 'gds', label: 'gds', codes: ADDON_CODES, own: (e, label) => libraryFromNative(e, label, native) };
}

/** An error thrown by the addon during `what`, as a DatamoverError (see gdsErrorMap). */
export function fromNative(e: unknown, what: string, native?: NativeText): DatamoverError {
  return nativeError(e, gdsErrorMap(native), what);
}

const ADDON_CODES: Readonly<Record<string, ErrorCode>> = {
  ENGINE_CLOSED: ErrorCode.MOVER_CLOSED,
  UNAVAILABLE: ErrorCode.BACKEND_UNAVAILABLE,
  UNVERIFIABLE_POINTER: ErrorCode.BACKEND_UNAVAILABLE,
};
const LIBRARY_CODES: Readonly<Record<string, Exclude<GdsLibrary, 'errno'>>> = { CUDART_ERROR: 'cudart', CUFILE_ERROR: 'cufile', CUDA_ERROR: 'cuda' };

function libraryFromNative(e: unknown, what: string, native?: NativeText): DatamoverError | undefined {
  const err = e as { code?: unknown; libraryCode?: unknown; cuErr?: unknown; nativeName?: unknown; nativeText?: unknown };
  const lib = typeof err?.code === 'string' ? LIBRARY_CODES[err.code] : undefined;
  if (!lib || typeof err.libraryCode !== 'number') return undefined;
  const own: NativeText = (l, c) =>
    l === lib && c === err.libraryCode ? { ...(typeof err.nativeName === 'string' ? { name: err.nativeName } : {}), ...(typeof err.nativeText === 'string' ? { text: err.nativeText } : {}) } : native?.(l, c);
  return libraryError(lib, err.libraryCode, what, { ...(typeof err.cuErr === 'number' ? { cuErr: err.cuErr } : {}), native: own, cause: e });
}

function errnoText(code: number): { name: string; text: string } {
  const known = getSystemErrorMap().get(-code);
  if (known) return { name: known[0], text: known[1] };
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === code) return { name, text: `errno ${code}` };
  return { name: `errno ${code}`, text: `errno ${code}` };
}
