// A hyperswarm connection (an encrypted streamx duplex) seen through the socket contract of
// backends/types.ts, so a Connection and a Peer run over it as they do over TCP. Writes are cut
// into pieces the stream takes: one write over 16 MiB - 17 bytes would destroy the connection.

import type { TcpSocket } from '../../backends/types.ts'
import { ClusterError } from '../errors.ts'

/** What SwarmTransport uses of a hyperswarm connection (a NoiseSecretStream). */
export interface SwarmConnection {
  readonly remotePublicKey: Uint8Array
  readonly publicKey: Uint8Array
  /** This side opened the Noise handshake: it speaks first in ours too. */
  readonly isInitiator: boolean
  readonly rawStream?: { remoteHost?: string; remotePort?: number } | null
  readonly destroyed?: boolean
  write(data: Uint8Array): boolean
  end(): void
  destroy(err?: Error): void
  pause(): unknown
  resume(): unknown
  setKeepAlive(ms: number): void
  setTimeout(ms: number): void
  on(event: string, fn: (...args: never[]) => void): unknown
}

/** The largest write handed to the stream at once; a larger one is cut into writes this big. */
export const MAX_SWARM_WRITE_BYTES = 4 * 1024 * 1024

// Errors a hyperswarm connection is destroyed with that say nothing against the other side.
const ORDERLY = new Set(['Duplicate connection', 'Swarm has been destroyed'])
const TIMED_OUT = 'Stream timed out'

export class SwarmSocket implements TcpSocket {
  readonly stream: SwarmConnection
  readonly remoteAddress: string | null
  readonly remotePort: number | null
  readonly localAddress: string | null
  readonly localPort: number | null
  readonly encrypted: boolean
  closed: boolean
  ondata: ((chunk: Uint8Array) => void) | null
  ondrain: (() => void) | null
  onend: (() => void) | null
  onclose: ((cause: ClusterError | null) => void) | null
  private _error: unknown
  private _deadAfterMs: number

  constructor(stream: SwarmConnection, deadAfterMs: number) {
    this.stream = stream
    this.remoteAddress = stream.rawStream?.remoteHost ?? null
    this.remotePort = stream.rawStream?.remotePort ?? null
    this.localAddress = null
    this.localPort = null
    this.encrypted = true
    this.closed = stream.destroyed === true
    this.ondata = null
    this.ondrain = null
    this.onend = null
    this.onclose = null
    this._error = null
    this._deadAfterMs = deadAfterMs
    stream.on('data', (chunk: Uint8Array) => this.ondata?.(chunk))
    stream.on('drain', () => this.ondrain?.())
    stream.on('end', () => this.onend?.())
    stream.on('error', (err: unknown) => {
      if (this._error === null) this._error = err
    })
    stream.on('close', () => {
      if (this.closed) return
      this.closed = true
      this.onclose?.(this._cause())
    })
  }

  get bufferedBytes(): number {
    const state = (this.stream as { _writableState?: { buffered?: number } })._writableState
    return typeof state?.buffered === 'number' ? state.buffered : 0
  }

  write(data: Uint8Array): boolean {
    if (this.closed) return false
    if (data.byteLength <= MAX_SWARM_WRITE_BYTES) return this.stream.write(data)
    let ok = true
    for (let at = 0; at < data.byteLength; at += MAX_SWARM_WRITE_BYTES) {
      ok = this.stream.write(data.subarray(at, Math.min(data.byteLength, at + MAX_SWARM_WRITE_BYTES)))
    }
    return ok
  }

  end(): void {
    if (!this.closed) this.stream.end()
  }

  destroy(cause: ClusterError | null = null): void {
    if (this.closed) return
    if (cause !== null && this._error === null) this._error = cause
    this.stream.destroy()
  }

  pause(): void {
    this.stream.pause()
  }

  resume(): void {
    this.stream.resume()
  }

  setNoDelay(): void {}

  setKeepAlive(enable: boolean, initialDelayMs = 1000): void {
    this.stream.setKeepAlive(enable ? initialDelayMs : 0)
  }

  private _cause(): ClusterError | null {
    const err = this._error
    if (err === null) return null
    if (err instanceof ClusterError) return err
    const message = err instanceof Error ? err.message : String(err)
    if (ORDERLY.has(message)) return null
    if (message === TIMED_OUT) return ClusterError.CONNECTION_CLOSED(`nothing heard from the peer in ${this._deadAfterMs} ms`)
    return ClusterError.from(err, 'SOCKET_ERROR')
  }
}
