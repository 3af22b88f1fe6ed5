// The contract between the transport and a runtime's sockets. Every backend fills it the same
// way, so nothing above `backends/` knows which runtime it runs on.

import type { ClusterError } from '../lib/errors.ts'

export type RuntimeName = 'bare' | 'node' | 'bun' | 'deno'

export type TlsMaterial = string | Uint8Array

export interface TlsSettings {
  cert: TlsMaterial
  key: TlsMaterial
  ca?: TlsMaterial | null
  /** Verify the other side's certificate chain against `ca` (or the system roots). Default true. */
  rejectUnauthorized?: boolean
  /** Name the dialler expects in the listener's certificate. Default: the dialled host. */
  serverName?: string | null
}

/** A connected byte stream. Handlers are plain properties: the transport is the one consumer. */
export interface TcpSocket {
  readonly remoteAddress: string | null
  readonly remotePort: number | null
  readonly localAddress: string | null
  readonly localPort: number | null
  readonly encrypted: boolean

  /** Bytes accepted by `write` and not yet handed to the operating system. */
  readonly bufferedBytes: number
  readonly closed: boolean

  /**
   * Accepts every byte, always (the stream is never truncated). Returns false once the
   * buffered bytes pass the high-water mark: stop writing until `ondrain`.
   */
  write(data: Uint8Array): boolean
  /** Half-close: flush what is buffered, then send FIN. Reading goes on until the peer ends. */
  end(): void
  /** Close now, dropping what is buffered. `onclose` receives `cause` (or null). */
  destroy(cause?: ClusterError | null): void

  /** Read flow control: while paused no `ondata` is called and the kernel's window fills. */
  pause(): void
  resume(): void

  setNoDelay(enable: boolean): void
  setKeepAlive(enable: boolean, initialDelayMs?: number): void

  ondata: ((chunk: Uint8Array) => void) | null
  ondrain: (() => void) | null
  /** The peer half-closed its side. */
  onend: (() => void) | null
  /** Called exactly once, after which the socket is dead. `cause` is null for an orderly close. */
  onclose: ((cause: ClusterError | null) => void) | null
}

export interface TcpServer {
  readonly host: string
  /** The real port, also when 0 was asked for. */
  readonly port: number
  readonly connections: number
  /**
   * Stops accepting; resolves when the listening socket is closed. Open connections are the
   * caller's to close.
   */
  close(): Promise<void>
}

export interface ListenOptions {
  host: string
  port: number
  tls?: TlsSettings | null
  noDelay?: boolean
  keepAlive?: boolean
  onconnection: (socket: TcpSocket) => void
  /** A connection that failed before it was handed over (a failed TLS handshake, say). */
  onerror?: ((err: ClusterError) => void) | null
}

export interface ConnectOptions {
  host: string
  port: number
  tls?: TlsSettings | null
  noDelay?: boolean
  keepAlive?: boolean
  /** Give up dialling (and the TLS handshake) after this long. */
  timeoutMs?: number
}

export interface TcpBackend {
  readonly name: RuntimeName
  /** Whether this runtime's TLS listener can ask for and verify a client certificate. */
  readonly verifiesClientCertificates: boolean
  listen(opts: ListenOptions): Promise<TcpServer>
  /** Resolves once connected (and, with TLS, once the TLS handshake is done). */
  connect(opts: ConnectOptions): Promise<TcpSocket>
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
