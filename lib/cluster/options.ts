// What Cluster.join takes, what a Cluster emits and counts: the cluster's public shapes.

import type { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { DropEvent, ObservableTransport } from '../transport/transport.ts'
import type { TlsSettings } from '../../backends/types.ts'
import type { EnvelopeMessage, WireMessage } from '../wire/index.ts'
import type { Cluster } from './cluster.ts'
import { DEFAULT_MAX_MEMBERS, type Member } from './membership.ts'
import type { PhiAccrualOptions } from './phi-accrual.ts'
import type { SigningKeyPair } from './record-signing.ts'

/**
 * What Cluster.join needs of an actor system: its name (the cluster's) and a logger. A system
 * that hosts actors also takes the cluster when it has joined, to route its messages.
 */
export interface ClusterSystem {
  /** The cluster's name: nodes of different names never meet. Part of every node address. */
  readonly name: string
  /** Where the cluster logs, unless `ClusterOptions.log` says otherwise. */
  readonly log?: Logger
  /** @internal */
  _attachCluster?(cluster: Cluster, opts: ClusterOptions): void
}

export type EnvelopeHandler = (from: NodeAddress, msg: EnvelopeMessage) => void

/** Decides whether the leader marks an unreachable member down. */
export type DowningRule = (member: Member, unreachableForMs: number, members: Member[]) => boolean

/** What `Cluster.join` takes; every field is optional. */
export interface ClusterOptions {
  /**
   * This node's host: where it listens and how the others reach it (ignored when `transport` is
   * given). Across machines, an address the others can reach, not 127.0.0.1.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Where the default TcpTransport listens, when it is not `host` (ignored when `transport` is
   * given): `'0.0.0.0'` in a container or behind NAT, with `host` the address the others dial.
   * @default host
   */
  listenHost?: string
  /**
   * This node's port (ignored when `transport` is given); 0 picks a free one.
   * @default 2552 (0 for a client-only node)
   */
  port?: number
  /**
   * `host:port` or full node addresses. A node that is its own first seed (or has none) starts a
   * new cluster; other nodes never start one on their own.
   * @default []
   */
  seeds?: (string | NodeAddress)[]
  /**
   * Any Transport, for tests or a transport of your own.
   * @default a TcpTransport on host:port with tls and secret
   */
  transport?: ObservableTransport
  /**
   * TLS for the default TcpTransport: every node needs the same CA (docs/security.md).
   * @default null
   */
  tls?: TlsSettings | null
  /**
   * A shared secret for the default TcpTransport: nodes prove they know it before any traffic,
   * and a node without it is refused. Take it from the environment, never from the source.
   * @default null
   */
  secret?: string | Uint8Array | null
  /**
   * Roles this node announces in its member record (`member.roles`).
   * @default []
   */
  roles?: string[]
  /**
   * Where the cluster logs.
   * @default the system's log
   */
  log?: Logger
  /**
   * One gossip round per interval, with one random member.
   * @default 500
   */
  gossipIntervalMs?: number
  /**
   * How often heartbeats go to each watched member.
   * @default 1000
   */
  heartbeatIntervalMs?: number
  /**
   * How many neighbours on the ring each node watches.
   * @default 5
   */
  monitoredMembers?: number
  /**
   * The phi accrual failure detector's settings (see PhiAccrualOptions).
   * @default PHI_DEFAULTS, with firstHeartbeatEstimateMs = heartbeatIntervalMs
   */
  failureDetector?: PhiAccrualOptions
  /**
   * Unreachable this long, the leader marks a member down (unless downingRule says otherwise).
   * @default 10000
   */
  downAfterMs?: number
  /**
   * Decides whether the leader downs an unreachable member.
   * @default (member, unreachableForMs) => unreachableForMs >= downAfterMs
   */
  downingRule?: DowningRule
  /**
   * Every this many gossip rounds, gossip goes to an unreachable member (so partitions heal).
   * @default 5
   */
  unreachableGossipEvery?: number
  /**
   * First wait before contacting the seeds again; doubles up to seedRetryMaxMs.
   * @default 200
   */
  seedRetryBaseMs?: number
  /**
   * Longest wait between seed retries.
   * @default 5000
   */
  seedRetryMaxMs?: number
  /**
   * How long removed members are remembered, so old gossip cannot bring them back.
   * @default 60000
   */
  tombstoneMs?: number
  /**
   * How long `leave()` waits to be removed before it shuts the node down anyway.
   * @default 10000
   */
  leaveTimeoutMs?: number
  /**
   * Connects to the cluster through the seeds and follows its membership, but is not a member:
   * nobody watches it, routes to it or waits for it. Listens on an ephemeral port unless `port`
   * says otherwise (replies come over the connections it opens).
   * @default false
   */
  clientOnly?: boolean
  /**
   * Actor systems: pass every local message through the serializer too, so a message that could
   * not cross the wire fails in tests on one node.
   * @default false
   */
  serializeLocalMessages?: boolean
  /** This node's Ed25519 identity, which signs its record and its decisions. Default: a new key pair. */
  keyPair?: SigningKeyPair
  /**
   * Members (tombstones included) this node keeps; a join beyond it is refused.
   * @default 1000
   */
  maxMembers?: number
  /**
   * Every this many gossip rounds per other member, the whole digest goes out instead of a
   * summary (a digest grows with the members, so its share of the bytes stays the same).
   * @default 10
   */
  fullGossipEvery?: number
}

export const CLUSTER_DEFAULTS = {
  host: '127.0.0.1',
  port: 2552,
  gossipIntervalMs: 500,
  heartbeatIntervalMs: 1000,
  monitoredMembers: 5,
  downAfterMs: 10_000,
  unreachableGossipEvery: 5,
  seedRetryBaseMs: 200,
  seedRetryMaxMs: 5_000,
  tombstoneMs: 60_000,
  leaveTimeoutMs: 10_000,
  maxMembers: DEFAULT_MAX_MEMBERS,
  fullGossipEvery: 10
} as const

/** The subsystem channel on which a member tells a node it was not let in, and why. */
export const REFUSED_CHANNEL = 'cluster/refused'

/**
 * Events a Cluster emits, from the moment `join` resolves; the view at that moment is
 * `cluster.members()`.
 */
export interface ClusterEventMap {
  /** A member is seen for the first time (or again, as a new incarnation). */
  'member-joined': [member: Member]
  /** The leader moved a member up. */
  'member-up': [member: Member]
  /** A member announced a graceful leave. */
  'member-leaving': [member: Member]
  /** Someone this node hears from stopped hearing the member's heartbeats. */
  'member-unreachable': [member: Member]
  /** The member is heard again by everyone this node hears from. */
  'member-reachable': [member: Member]
  /** The leader gave up on an unreachable member. */
  'member-down': [member: Member]
  /**
   * The member is out of the cluster (after leaving or being down, or replaced by a restart).
   * A node that finds itself down or removed stops.
   */
  'member-removed': [member: Member]
  /** The leader (lowest address among reachable up members) changed; null when there is none. */
  'leader-changed': [leader: NodeAddress | null, previous: NodeAddress | null]
  /** The node has stopped (left, shut down, or put out by the others); its transport is closed. */
  stopped: []
  /** A member this node asked to let it in refused (MEMBERSHIP_FULL); it keeps asking. */
  'join-refused': [error: ClusterError, by: NodeAddress]
  /** Envelopes nobody took (no envelope handler) and subsystem messages on no open channel. */
  message: [from: NodeAddress, msg: WireMessage]
  /** The transport's: a message it did not deliver (also counted in its stats). */
  drop: [event: DropEvent]
  /** The transport's: the connection to a peer closed (it is dialled again when needed). */
  'peer-disconnected': [peer: NodeAddress]
}

/** Why the cluster let a message go that the transport had delivered to it, or could not send one. */
export type ClusterDiscardReason =
  // An envelope or channel message that arrived after this node's cluster stopped.
  | 'stopped'
  // An envelope with no envelope handler (no actor system) and no 'message' listener.
  | 'no-handler'
  // A channel message on a channel not open here, with no 'message' listener.
  | 'no-channel'
  // Gossip the transport refused to take.
  | 'not-sent'

export interface ClusterStats {
  gossipRounds: number
  gossipMessagesSent: number
  gossipBytesSent: number
  heartbeatsSent: number
  /**
   * Envelopes with no handler and channel messages on channels not open here, when no 'message'
   * listener took them either.
   */
  unhandledMessages: number
  /** Messages discarded above the transport, by reason (the transport's own drops are in its stats). */
  discarded: Partial<Record<ClusterDiscardReason, number>>
  /** Member records and decisions refused, by error code (BAD_RECORD, MEMBERSHIP_FULL). */
  refusedRecords: Record<string, number>
  /** Connections closed because the peer sent a forged or out-of-range record. */
  forgersDisconnected: number
  /** Ticks on which this node found its own timers had run late and judged nobody. */
  pausesDetected: number
  /** Times this node answered an accusation about itself with a newer record. */
  refutations: number
  /** Gossip messages whose handling failed (counted, never thrown out of the handler). */
  gossipErrors: number
}
