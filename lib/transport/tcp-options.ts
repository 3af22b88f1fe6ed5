// TcpTransport's options, their defaults, and the settings they resolve to.

import type { TcpBackend, TlsSettings } from '../../backends/types.ts'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/index.ts'

/** What `new TcpTransport(options)` takes; only `self` is required. */
export interface TcpTransportOptions {
  /**
   * This node's address (`actor-cluster://app@host:port` or a NodeAddress): the address others
   * dial, and with port 0 a free port is picked at listen.
   */
  self: NodeAddress | string
  /**
   * Where the transport logs.
   * @default silent
   */
  log?: Logger
  /**
   * TLS for every connection, both directions (docs/security.md).
   * @default null
   */
  tls?: TlsSettings | null
  /**
   * Longest frame sent or accepted; each side announces its own in the handshake.
   * @default 16777216 (16 MiB)
   */
  maxFrameBytes?: number
  /**
   * The sockets to use.
   * @default getTcpBackend(), this runtime's
   */
  backend?: TcpBackend
  /**
   * Name both sides must agree on in the handshake.
   * @default the address's system name
   */
  cluster?: string
  /**
   * A shared secret (at least 16 bytes) both sides of every connection must prove they know.
   * @default null
   */
  secret?: string | Uint8Array | null
  /**
   * Address to bind, when it differs from the announced one (`0.0.0.0` in a container).
   * @default self.host
   */
  listenHost?: string
  /**
   * Addresses (host:port or node addresses) that are only how to reach a seed: the address a
   * seed announces in its handshake is its name, and messages sent to the dialled one go to it.
   * `'any'` treats every dialled address so, for users whose peers are named elsewhere (the
   * gossipmonger drop-in names peers by id and reaches them by whatever host:port it was told).
   * @default []
   */
  seeds?: (NodeAddress | string)[] | 'any'
  /**
   * A connection that has not finished its handshake by then is closed.
   * @default 5000
   */
  handshakeTimeoutMs?: number
  /**
   * A dial that has not connected by then fails.
   * @default 5000
   */
  connectTimeoutMs?: number
  /**
   * Per peer: envelopes beyond this many queued bytes are refused and counted.
   * @default 33554432 (32 MiB)
   */
  maxQueuedBytes?: number
  /**
   * Per peer: room kept for control frames on top of maxQueuedBytes.
   * @default 4194304 (4 MiB)
   */
  maxControlQueuedBytes?: number
  /**
   * The transport's own heartbeat per connection, for round-trip time; 0 turns it off.
   * @default 1000
   */
  heartbeatIntervalMs?: number
  /**
   * First wait before dialling a peer again; doubles up to backoffMaxMs.
   * @default 100
   */
  backoffBaseMs?: number
  /**
   * Longest wait between dials to one peer.
   * @default 10000
   */
  backoffMaxMs?: number
  /**
   * Consecutive failed dials after which the peer's queued envelopes are dropped as unreachable.
   * @default 8
   */
  maxDialAttempts?: number
  /**
   * Accepted connections at most; more are closed with TOO_MANY_CONNECTIONS.
   * @default 1024
   */
  maxInboundConnections?: number
  /**
   * Open connections that peers dialled, all peers together; a handshake past it is refused
   * (TOO_MANY_CONNECTIONS).
   * @default 4096
   */
  maxConnections?: number
  /**
   * Peers remembered (stats, incarnation, backoff). Idle ones are forgotten after
   * forgetPeerAfterMs, or at once, oldest first, when there are more than this.
   * @default 10000
   */
  maxPeers?: number
  /**
   * A peer with no connection and nothing queued for this long is forgotten.
   * @default 600000 (10 minutes)
   */
  forgetPeerAfterMs?: number
  /**
   * Dials under way at once; more wait their turn.
   * @default 64
   */
  maxConcurrentDials?: number
  /**
   * A connection holding part of a frame, or part of a chunked message, without progress for this
   * long is closed (STALLED).
   * @default 30000
   */
  stallTimeoutMs?: number
  /**
   * Bytes held in unfinished chunked messages on all connections together; a chunk past it
   * closes its connection (REASSEMBLY_FULL). Each connection may hold at most maxFrameBytes.
   * @default 67108864 (64 MiB)
   */
  maxReassemblyBytes?: number
  /**
   * How long `shutdown()` waits for queued frames to flush before closing anyway.
   * @default 5000
   */
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
  Omit<TcpTransportOptions, 'self' | 'log' | 'tls' | 'backend' | 'cluster' | 'listenHost' | 'maxFrameBytes' | 'secret' | 'seeds'>
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

/** The options object, from either constructor form (an options object, or positional). */
export function tcpOptions(
  selfOrOptions: NodeAddress | string | TcpTransportOptions,
  log?: Logger,
  tls?: TlsSettings | null,
  maxFrameBytes?: number
): TcpTransportOptions {
  if (typeof selfOrOptions === 'object' && !(selfOrOptions instanceof NodeAddress)) return selfOrOptions
  return { self: selfOrOptions, log, tls, maxFrameBytes }
}

/** The longest frame sent or accepted: an integer from 1024 to 2^32-1, or BAD_OPTIONS. */
export function frameLimit(o: TcpTransportOptions): number {
  const max = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (!Number.isInteger(max) || max < 1024 || max > 0xffffffff) {
    throw ClusterError.BAD_OPTIONS('maxFrameBytes must be an integer from 1024 to 2^32-1')
  }
  return max
}
