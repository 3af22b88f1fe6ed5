// SwarmTransport's options, their defaults, how the ones that need it are read, and the shapes
// of the hyperswarm pieces it uses.

import b4a from 'b4a'
import { sha256, type KeyPairBytes } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { decodeZ32 } from '../z-base-32.ts'
import type { SwarmConnection } from './swarm-socket.ts'
import type { TcpTransportOptions } from './tcp-options.ts'

/** A DHT node to bootstrap from: `{ host, port }` or `'host:port'`. */
export type BootstrapNode = { host: string; port: number } | string

/** Who may connect: a list of public keys (32 bytes or z-base-32 / hex text), or a predicate. */
export type SwarmAllow = (Uint8Array | string)[] | ((publicKey: Uint8Array) => boolean)

/** What SwarmTransport uses of a hyperswarm `PeerDiscovery` session. */
export interface SwarmDiscovery {
  flushed(): Promise<unknown>
  refresh(opts?: { client?: boolean; server?: boolean }): Promise<unknown>
  destroy(): Promise<unknown>
}

/** What SwarmTransport uses of a Hyperswarm. */
export interface SwarmLike {
  readonly keyPair: KeyPairBytes
  join(topic: Uint8Array, opts?: { client?: boolean; server?: boolean }): SwarmDiscovery
  joinPeer(publicKey: Uint8Array): void
  leavePeer(publicKey: Uint8Array): void
  destroy(): Promise<unknown>
  on(event: 'connection', fn: (conn: SwarmConnection, info: unknown) => void): unknown
  removeListener(event: 'connection', fn: (conn: SwarmConnection, info: unknown) => void): unknown
}

/** A HyperDHT node (only handed to Hyperswarm). */
export interface DhtLike {
  destroy(): Promise<unknown>
}

type Inherited = Pick<
  TcpTransportOptions,
  | 'log'
  | 'maxFrameBytes'
  | 'cluster'
  | 'secret'
  | 'maxQueuedBytes'
  | 'maxControlQueuedBytes'
  | 'heartbeatIntervalMs'
  | 'backoffBaseMs'
  | 'backoffMaxMs'
  | 'maxDialAttempts'
  | 'maxConnections'
  | 'maxPeers'
  | 'forgetPeerAfterMs'
  | 'stallTimeoutMs'
  | 'maxReassemblyBytes'
  | 'shutdownTimeoutMs'
>

/**
 * What `new SwarmTransport(options)` takes; only `topic` is required. Every node on the topic
 * (and allowed by `allow`) is a peer. The options it shares with TcpTransport mean the same;
 * `maxDialAttempts` counts asks to hyperswarm for a peer that brought no connection.
 */
export interface SwarmTransportOptions extends Inherited {
  /** The cluster's meeting place: 32 bytes, or a string whose SHA-256 is used. */
  topic: Uint8Array | string
  /**
   * The actor system's name, part of this node's address.
   * @default the name `Cluster.join` gives
   */
  system?: string
  /**
   * This node's Ed25519 identity (hyperswarm's `{ publicKey, secretKey }`): its address is its
   * public key, and its membership records are signed with it.
   * @default a new key pair
   */
  keyPair?: KeyPairBytes
  /**
   * DHT bootstrap nodes (a testnet's, or your own).
   * @default hyperdht's public bootstrap nodes
   */
  bootstrap?: BootstrapNode[]
  /**
   * Address the DHT binds (`127.0.0.1` keeps it on this machine).
   * @default '0.0.0.0'
   */
  host?: string
  /**
   * UDP port the DHT binds.
   * @default 0 (any)
   */
  port?: number
  /**
   * A Hyperswarm of your own (a Pear app's). Its connections are all taken as the cluster's, and
   * its firewall is yours: `allow` is then checked on each connection instead. Not destroyed at
   * shutdown.
   * @default a Hyperswarm made by the transport
   */
  swarm?: SwarmLike | null
  /**
   * A HyperDHT of your own for the transport's Hyperswarm; not destroyed at shutdown.
   * @default a HyperDHT made with `host`, `port` and `bootstrap`
   */
  dht?: DhtLike | null
  /**
   * The keys that may connect (this node's members), or a predicate on a key; anyone else is
   * refused by hyperswarm's firewall before a byte of ours is exchanged, and counted.
   * @default anyone on the topic
   */
  allow?: SwarmAllow | null
  /**
   * A connection sends a keep-alive when it has been quiet this long.
   * @default 1000
   */
  keepAliveMs?: number
  /**
   * A connection on which nothing arrived for this long is closed (the peer is gone).
   * @default 5000
   */
  deadAfterMs?: number
  /**
   * How often discovery looks again while the transport knows peers it has no connection to.
   * @default 2000
   */
  refreshIntervalMs?: number
  /** Where the transport logs. @default silent */
  log?: Logger
  /**
   * A connection that has not finished our handshake by then is closed and another asked for.
   * @default 2000
   */
  handshakeTimeoutMs?: number
  /**
   * A connection this node opened on which nothing at all has arrived this long after its hello
   * is taken for one the other side never saw (hyperswarm reports some such connections open,
   * and while one is pending it refuses the other side's dials to this node as duplicates): it
   * is closed as HANDSHAKE_TIMEOUT and another asked for. A live peer answers the hello within a
   * round trip; each unanswered dial in a row to one peer waits twice as long, up to
   * handshakeTimeoutMs, so a peer further away than this is still reached.
   * @default 750
   */
  unansweredHelloMs?: number
}

const TOPIC_BYTES = 32
const KEY_BYTES = 32

export const SWARM_DEFAULTS = {
  handshakeTimeoutMs: 2_000,
  unansweredHelloMs: 750,
  keepAliveMs: 1_000,
  deadAfterMs: 5_000,
  refreshIntervalMs: 2_000,
  // A lone node, or one that knows every peer it wants, looks again at most this rarely.
  maxRefreshIntervalMs: 30_000
} as const

/** A topic as 32 bytes: given so, or the SHA-256 of a string's UTF-8. */
export function topicBytes(topic: Uint8Array | string): Uint8Array {
  if (typeof topic === 'string') {
    if (topic.length === 0) throw ClusterError.BAD_OPTIONS('topic must not be empty')
    return sha256([b4a.from(topic, 'utf8')])
  }
  if (topic instanceof Uint8Array && topic.byteLength === TOPIC_BYTES) return topic
  throw ClusterError.BAD_OPTIONS('topic must be 32 bytes or a string')
}

/** A public key from bytes, z-base-32 or hex; BAD_OPTIONS otherwise. */
export function publicKeyOf(key: Uint8Array | string): Uint8Array {
  if (key instanceof Uint8Array && key.byteLength === KEY_BYTES) return key
  if (typeof key === 'string') {
    const z = decodeZ32(key, KEY_BYTES)
    if (z !== null) return z
    if (/^[0-9a-fA-F]{64}$/.test(key)) return b4a.from(key, 'hex')
  }
  throw ClusterError.BAD_OPTIONS('a public key is 32 bytes, or their z-base-32 or hex')
}

/** `allow` as a predicate on a key, or null for anyone. */
export function allowPredicate(allow: SwarmAllow | null): ((publicKey: Uint8Array) => boolean) | null {
  if (allow === null) return null
  if (typeof allow === 'function') return allow
  if (!Array.isArray(allow)) throw ClusterError.BAD_OPTIONS('allow is a list of public keys or a function')
  const keys = new Set(allow.map((k) => b4a.toString(publicKeyOf(k), 'hex')))
  return (key) => keys.has(b4a.toString(key, 'hex'))
}

/** A time option in milliseconds: the default when absent, BAD_OPTIONS unless positive. */
export function positiveMs(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw ClusterError.BAD_OPTIONS(`${name} must be a positive number of milliseconds`)
  return value
}
