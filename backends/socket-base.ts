// What every backend's socket and module loading share.

import { ClusterError } from '../lib/errors.ts'

/**
 * The handler slots, the remote address as it was when the socket opened (some runtimes forget
 * it once closed), and a close reported exactly once with the first cause recorded.
 */
export abstract class SocketBase {
  readonly encrypted: boolean
  readonly remoteAddress: string | null
  readonly remotePort: number | null
  ondata: ((chunk: Uint8Array) => void) | null
  ondrain: (() => void) | null
  onend: (() => void) | null
  onclose: ((cause: ClusterError | null) => void) | null
  protected _closed: boolean
  protected _cause: ClusterError | null

  constructor(encrypted: boolean, remoteAddress: string | null | undefined, remotePort: number | null | undefined) {
    this.encrypted = encrypted
    this.remoteAddress = remoteAddress || null
    this.remotePort = remotePort ?? null
    this.ondata = null
    this.ondrain = null
    this.onend = null
    this.onclose = null
    this._closed = false
    this._cause = null
  }

  get closed(): boolean {
    return this._closed
  }

  protected _setCause(cause: ClusterError | null): void {
    if (cause !== null && this._cause === null) this._cause = cause
  }

  /** A runtime error becomes the close cause, unless one was recorded first. */
  protected _setError(err: unknown): void {
    if (this._cause === null) this._cause = ClusterError.SOCKET_ERROR(describeError(err), err)
  }

  protected _reportClose(): void {
    this._closed = true
    const onclose = this.onclose
    this.onclose = null
    onclose?.(this._cause)
  }
}

/**
 * Bun and Deno hand over whatever a socket has waiting without a turn of the event loop in between
 * (Bun: megabytes in one go; Deno: reads that find data settle back to back), so a socket that
 * always has data would hold back timers (heartbeats) and other sockets. Their backends let the
 * loop turn once after every this many bytes read.
 */
export const READ_BYTES_PER_TURN = 1024 * 1024

/** Runs `fn` after the event loop has turned once (timers and I/O first). */
export const nextTurn = (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate

export interface SocketTuning {
  setNoDelay(enable: boolean): void
  setKeepAlive(enable: boolean, initialDelayMs?: number): void
}

/** No Nagle delay and TCP keep-alive unless asked otherwise. */
export function applySocketOptions(socket: SocketTuning, opts: { noDelay?: boolean; keepAlive?: boolean }): void {
  if (opts.noDelay !== false) socket.setNoDelay(true)
  if (opts.keepAlive !== false) socket.setKeepAlive(true, 30_000)
}

/** `ECONNREFUSED connect failed`, from whatever shape the runtime's error has. */
export function describeError(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; name?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' && e.name !== 'Error' ? e.name : ''
  const message = typeof e.message === 'string' ? e.message : String(err)
  return code ? `${code} ${message}`.trim() : message
}

/** A built-in module of Node, Bun or Deno (all three have process.getBuiltinModule). */
export function builtinModule<T>(name: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const mod = proc?.getBuiltinModule?.(name)
  if (!mod) throw ClusterError.UNSUPPORTED_RUNTIME(`${name} is not available on this runtime`)
  return mod as T
}
