// The contract between the transport and a runtime's sockets. Every backend fills it the same
// way, so nothing above `backends/` knows which runtime it runs on.

import type { ClusterError } from '../lib/errors.ts'

export type RuntimeName = 'bare' | 'node' | 'bun' | 'deno'

export type TlsMaterial = string | Uint8Array

/** TLS for a node's connections: the same settings serve its listener and its dials. */
export interface TlsSettings {
  /** This node's certificate chain, PEM. */
  cert: TlsMaterial
  /** This node's private key, PEM. */
  key: TlsMaterial
  /**
   * The CA the other side's certificate must chain to, PEM.
   * @default null (the system roots)
   */
  ca?: TlsMaterial | null
  /**
   * Verify the other side's certificate chain against `ca` (or the system roots).
   * @default true
   */
  rejectUnauthorized?: boolean
  /**
   * Name the dialler expects in the listener's certificate.
   * @default null (the dialled host)
   */
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

/** What `backend.listen` takes. */
export interface ListenOptions {
  /** The address to listen on: `0.0.0.0` or `::` for every interface. */
  host: string
  /** The port to listen on; 0 picks a free one (`server.port` tells which). */
  port: number
  /**
   * TLS for every accepted connection.
   * @default null
   */
  tls?: TlsSettings | null
  /**
   * Disable Nagle's algorithm on accepted sockets.
   * @default true
   */
  noDelay?: boolean
  /**
   * TCP keep-alive on accepted sockets, probing after 30 s idle.
   * @default true
   */
  keepAlive?: boolean
  /** Called with each accepted (and, with TLS, handshaken) socket. */
  onconnection: (socket: TcpSocket) => void
  /** A connection that failed before it was handed over (a failed TLS handshake, say). */
  onerror?: ((err: ClusterError) => void) | null
}

/** What `backend.connect` takes. */
export interface ConnectOptions {
  /** The host to dial. */
  host: string
  /** The port to dial. */
  port: number
  /**
   * TLS for this connection.
   * @default null
   */
  tls?: TlsSettings | null
  /**
   * Disable Nagle's algorithm.
   * @default true
   */
  noDelay?: boolean
  /**
   * TCP keep-alive, probing after 30 s idle.
   * @default true
   */
  keepAlive?: boolean
  /**
   * Give up dialling (and the TLS handshake) after this long.
   * @default 10000
   */
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
