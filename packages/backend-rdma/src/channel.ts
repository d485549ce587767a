/**
 * One control-channel socket: newline-delimited JSON objects. During the handshake messages are
 * awaited one at a time (`next`); afterwards each goes to one handler (`handle`).
 */
import type { Socket } from 'node:net';
import { datamoverError } from '@datamover/core';
import { RdmaErrorCode } from './errors.js';

/** Longest accepted line; a peer sending more is cut off. */
const MAX_LINE = 1 << 20;

export class Channel<M extends object> {
  readonly #queue: M[] = [];
  #waiter: { resolve: (m: M) => void; reject: (e: Error) => void } | undefined;
  #handler: ((m: M) => void) | undefined;
  #closed = false;

  constructor(readonly socket: Socket, readonly name: string) {
    let buf = '';
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: unknown;
        try {
          m = JSON.parse(line);
        } catch {
          socket.destroy();
          return;
        }
        if (m && typeof m === 'object' && !Array.isArray(m)) this.#push(m as M);
      }
      if (buf.length > MAX_LINE) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#closed = true;
      this.#waiter?.reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${name} closed the control channel`));
      this.#waiter = undefined;
    });
  }

  send(m: M): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(m)}\n`);
  }

  /** The next message; REMOTE_DISCONNECT when the socket closes or `timeoutMs` passes first. */
  next(timeoutMs: number): Promise<M> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${this.name} closed the control channel`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${this.name} did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => clearTimeout(timer);
      this.#waiter = {
        resolve: (m) => (done(), resolve(m)),
        reject: (e) => (done(), reject(e)),
      };
    });
  }

  /** From now on every message (queued ones first) goes to `handler`. */
  handle(handler: (m: M) => void): void {
    this.#handler = handler;
    for (const m of this.#queue.splice(0)) handler(m);
  }

  #push(m: M): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) w.resolve(m);
    else if (this.#handler) this.#handler(m);
    else this.#queue.push(m);
  }
}
