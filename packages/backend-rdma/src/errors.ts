/** The rdma backend's own error codes (core's declareErrorCodes): stable strings, like core's. */
import { declareErrorCodes, ErrorCode } from '@datamover/core';

/**
 * The rdma codes, each a string equal to its name: `REMOTE_DISCONNECT` (the peer holding a remote
 * region disconnected or stopped answering before the work landed; a transfer error), declared by
 * rdma, and core's `ACCESS_REVOKED` and `INVALID_TOKEN`, which core's region exchange (the peer
 * directory) raises too.
 */
export const RdmaErrorCode = {
  ...declareErrorCodes('rdma', {
    /** The peer holding a remote region disconnected (or stopped answering) before the work landed. */
    REMOTE_DISCONNECT: 'transfer',
  }),
  // Revocation and tokens belong to core's region exchange (the peer directory) as well, so they are core's codes.
  ACCESS_REVOKED: ErrorCode.ACCESS_REVOKED,
  INVALID_TOKEN: ErrorCode.INVALID_TOKEN,
} as const;
