// TcpTransport's options, their defaults, and the settings they resolve to.

import type { TcpBackend, TlsSettings } from '../../backends/types.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'

/** Options of `new TcpTransport(options)`; every one but `self` may be left out. */
export interface TcpTransportOptions {
  /** This node's address; listens on its host and port (port 0 picks a free one). */
  self: NodeAddress | string
  /** Default: silent. At debug level it writes `[tcp-transport]` lines. */
  log?: Logger
  /** TLS settings, the same on every node. Default: null (plaintext). */
  tls?: TlsSettings | null
  /** The longest frame accepted, length prefix included. Default: 16 MiB. */
  maxFrameBytes?: number
  /** The socket backend. Default: `getTcpBackend()`. */
  backend?: TcpBackend
  /** The name both sides must agree on in the handshake. Default: the address's system name. */
  cluster?: string
  /** A shared secret (16 bytes or more) both sides of every connection must prove. Default: null. */
  secret?: string | Uint8Array | null
  /** The address to bind, when it differs from the one announced. Default: `self.host`. */
  listenHost?: string
  /** A connection that does not finish its handshake in this time is closed. Default: 5000. */
  handshakeTimeoutMs?: number
  /** Default: 5000. */
  connectTimeoutMs?: number
  /** Per peer: envelopes beyond this many queued bytes are dropped (queue-full). Default: 32 MiB. */
  maxQueuedBytes?: number
  /** Per peer: room kept for control frames on top of maxQueuedBytes. Default: 4 MiB. */
  maxControlQueuedBytes?: number
  /** A heartbeat per open connection at most this often; 0 sends only on `heartbeat()`. Default: 1000. */
  heartbeatIntervalMs?: number
  /** Redial backoff, exponential with jitter, per peer. Default: 100. */
  backoffBaseMs?: number
  /** Default: 10000. */
  backoffMaxMs?: number
  /** Consecutive failed dials after which a peer's queued envelopes are dropped. Default: 8. */
  maxDialAttempts?: number
  /** Inbound connections in their handshake at once. Default: 1024. */
  maxInboundConnections?: number
  /**
   * Open connections that peers dialled, all peers together; a handshake past it is refused
   * (TOO_MANY_CONNECTIONS). Default: 4096.
   */
  maxConnections?: number
  /**
   * Peers remembered (stats, incarnation, backoff). Idle ones are forgotten after
   * forgetPeerAfterMs, or at once, oldest first, when there are more than this. Default: 10000.
   */
  maxPeers?: number
  /** Default: 10 minutes. */
  forgetPeerAfterMs?: number
  /** Dials under way at once; more wait their turn. Default: 64. */
  maxConcurrentDials?: number
  /**
   * A connection holding part of a frame, or part of a chunked message, without progress this
   * long is closed (STALLED). Default: 30000.
   */
  stallTimeoutMs?: number
  /**
   * Bytes held in unfinished chunked messages on all connections together; a chunk past it
   * closes its connection (REASSEMBLY_FULL). Each connection may hold at most maxFrameBytes.
   * Default: 64 MiB.
   */
  maxReassemblyBytes?: number
  /** How long `shutdown()` may spend flushing. Default: 5000. */
  shutdownTimeoutMs?: number
}

export const TCP_DEFAULTS = {
  handshakeTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  maxQueuedBytes: 32 * 1024 * 1024,
  maxControlQueuedBytes: 4 * 1024 * 1024,
  heartbeatIntervalMs: 1_000,
  backoffBaseMs: 100,
  backoffMaxMs: 10_000,
  maxDialAttempts: 8,
  maxInboundConnections: 1024,
  maxConnections: 4096,
  maxPeers: 10_000,
  forgetPeerAfterMs: 10 * 60_000,
  maxConcurrentDials: 64,
  stallTimeoutMs: 30_000,
  maxReassemblyBytes: 64 * 1024 * 1024,
  shutdownTimeoutMs: 5_000
} as const

// Every option but the identity and the plumbing, with its default filled in.
export type TcpSettings = Required<
  Omit<TcpTransportOptions, 'self' | 'log' | 'tls' | 'backend' | 'cluster' | 'listenHost' | 'maxFrameBytes' | 'secret'>
>

export function tcpSettings(o: TcpTransportOptions): TcpSettings {
  return {
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? TCP_DEFAULTS.handshakeTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs ?? TCP_DEFAULTS.connectTimeoutMs,
    maxQueuedBytes: o.maxQueuedBytes ?? TCP_DEFAULTS.maxQueuedBytes,
    maxControlQueuedBytes: o.maxControlQueuedBytes ?? TCP_DEFAULTS.maxControlQueuedBytes,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? TCP_DEFAULTS.heartbeatIntervalMs,
    backoffBaseMs: o.backoffBaseMs ?? TCP_DEFAULTS.backoffBaseMs,
    backoffMaxMs: o.backoffMaxMs ?? TCP_DEFAULTS.backoffMaxMs,
    maxDialAttempts: o.maxDialAttempts ?? TCP_DEFAULTS.maxDialAttempts,
    maxInboundConnections: o.maxInboundConnections ?? TCP_DEFAULTS.maxInboundConnections,
    maxConnections: o.maxConnections ?? TCP_DEFAULTS.maxConnections,
    maxPeers: o.maxPeers ?? TCP_DEFAULTS.maxPeers,
    forgetPeerAfterMs: o.forgetPeerAfterMs ?? TCP_DEFAULTS.forgetPeerAfterMs,
    maxConcurrentDials: o.maxConcurrentDials ?? TCP_DEFAULTS.maxConcurrentDials,
    stallTimeoutMs: o.stallTimeoutMs ?? TCP_DEFAULTS.stallTimeoutMs,
    maxReassemblyBytes: o.maxReassemblyBytes ?? TCP_DEFAULTS.maxReassemblyBytes,
    shutdownTimeoutMs: o.shutdownTimeoutMs ?? TCP_DEFAULTS.shutdownTimeoutMs
  }
}
