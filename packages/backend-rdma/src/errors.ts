/** The rdma backend's own error codes (core's declareErrorCodes): stable strings, like core's. */
import { declareErrorCodes } from '@datamover/core';

/**
 * The rdma codes, each a string equal to its name: `REMOTE_DISCONNECT` (the peer holding a remote
 * region disconnected or stopped answering before the work landed), `ACCESS_REVOKED` (the exporter
 * revoked the remote region) — both transfer errors — and `INVALID_TOKEN` (a malformed, forged,
 * stale or refused token; an invalid argument).
 */
export const RdmaErrorCode = declareErrorCodes('rdma', {
  /** The peer holding a remote region disconnected (or stopped answering) before the work landed. */
  REMOTE_DISCONNECT: 'transfer',
  /** The exporter revoked the remote region this work names. */
  ACCESS_REVOKED: 'transfer',
  /** A remote-region token that is malformed, forged, stale or refused by its exporter. */
  INVALID_TOKEN: 'invalid-argument',
});
