import { describe, expect, it } from 'vitest';
import { BackendError, DatamoverError, datamoverError, declaredErrorCodes, declareErrorCodes, ErrorCode, InvalidArgumentError, TransferError } from '../src/index.js';

describe('declareErrorCodes: a backend declares its own stable codes', () => {
  const Codes = declareErrorCodes('test-backend', { LINK_DOWN: 'transfer', BAD_TICKET: 'invalid-argument', QUOTA_GONE: 'backend' });

  it('gives each code its string and makes errors of the declared subclass', () => {
    expect(Codes.LINK_DOWN).toBe('LINK_DOWN');
    const e = datamoverError(Codes.LINK_DOWN, 'the link went down');
    expect(e).toBeInstanceOf(TransferError);
    expect(e.code).toBe('LINK_DOWN');
    expect(datamoverError(Codes.BAD_TICKET, 'x')).toBeInstanceOf(InvalidArgumentError);
    expect(datamoverError(Codes.QUOTA_GONE, 'x')).toBeInstanceOf(BackendError);
    expect(declaredErrorCodes()).toEqual(expect.arrayContaining([{ code: 'LINK_DOWN', backend: 'test-backend', group: 'transfer' }]));
  });

  it("refuses a core code or another backend's, with INVALID_ARGUMENT", () => {
    expect(() => declareErrorCodes('other', { IO_ERROR: 'transfer' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining("one of core's") }));
    expect(() => declareErrorCodes('other', { LINK_DOWN: 'transfer' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining('backend test-backend') }));
    expect(() => declareErrorCodes('test-backend', { LINK_DOWN: 'backend' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => declareErrorCodes('other', { NEW_CODE: 'nonsense' as 'transfer' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });

  it('accepts the same declaration again (a module loaded twice)', () => {
    expect(declareErrorCodes('test-backend', { LINK_DOWN: 'transfer' }).LINK_DOWN).toBe('LINK_DOWN');
  });

  it('an undeclared code (or an Object.prototype name) is a plain DatamoverError, never a crash', () => {
    for (const code of ['NOT_DECLARED', 'toString', 'constructor']) {
      const e = datamoverError(code, 'x');
      expect(e.constructor).toBe(DatamoverError);
      expect(e.code).toBe(code);
    }
  });
});
