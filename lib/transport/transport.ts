// The Transport interface, the ObservableTransport both transports implement (what the cluster
// takes), and the shapes of their events and stats.

import type { SigningKeyPair } from '../../backends/crypto.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ClusterError } from '../errors.ts'
import type { WireMessage } from '../wire/index.ts'

export type MessageHandler = (from: NodeAddress, msg: WireMessage) => void

/** What the cluster needs of a transport: TcpTransport and InMemoryTransport both fill it. */
export interface Transport {
  /** This node's address (with the real port once started, when 0 was asked for). */
  readonly self: NodeAddress
  /** Starts listening; resolves once peers can connect. */
  start(): Promise<void>
  /** Flushes what is queued (bounded in time), closes every connection and stops listening. */
  shutdown(): Promise<void>
  /** The one receiver of every message from every peer. */
  setHandler(handler: MessageHandler): void
  /**
   * Queues `msg` for `to`, connecting if need be, and never throws for the peer's sake: what
   * cannot be delivered is counted in stats and emitted as 'drop'.
   */
  send(to: NodeAddress, msg: WireMessage): void
  /** Closes the connection to `peer`; what is queued for it is dropped and counted. */
  disconnect(peer: NodeAddress): void
  /** The peers with an open connection now. */
  peers(): NodeAddress[]
}

/** Why a message was not delivered. Every drop is counted in stats and emitted as 'drop'. */
export const DropReason = {
  QUEUE_FULL: 'queue-full',
  UNREACHABLE: 'unreachable',
  TOO_LARGE: 'too-large',
  SHUTDOWN: 'shutdown',
  DISCONNECTED: 'disconnected',
  NO_HANDLER: 'no-handler',
  /** An envelope from a peer to a recipient the actor system does not let peers address. */
  FORBIDDEN_RECIPIENT: 'forbidden-recipient',
  /** Fault injection on an in-memory bus. */
  INJECTED_LOSS: 'injected-loss',
  PARTITIONED: 'partitioned',
  /** Written to a peer that restarted (a new incarnation) before it acknowledged them. */
  PEER_RESTARTED: 'peer-restarted'
} as const

export type DropReason = (typeof DropReason)[keyof typeof DropReason]

export interface DropEvent {
  peer: NodeAddress
  reason: DropReason
  kind: WireMessage['kind']
  bytes: number
  /**
   * How many messages the event stands for: several when written batches the peer never
   * acknowledged are given up together (`kind` is then the first one's, 'envelope' if any was).
   * @default 1
   */
  count?: number
  /** For a single envelope, the local path it was sent to. */
  recipient?: string
}

/**
 * What became of the messages sent to one peer (all kinds but heartbeats, goodbyes and the
 * transport's own): `sent` = `delivered` + the sum of `dropped` + `pending`, always.
 */
export interface DeliveryStats {
  /** Messages handed to send() for the peer, those refused at once included. */
  sent: number
  /** Acknowledged by the peer: handed to its handler. */
  delivered: number
  /** Given up, by reason. */
  dropped: Partial<Record<DropReason, number>>
  /** Queued, or written and not acknowledged yet. */
  pending: number
  /** Bytes written and kept until the peer acknowledges them, for a resend. */
  unackedBytes: number
  /** Messages from the peer that arrived again after a resend and were discarded. */
  duplicates: number
}

/** The drop event of one message that did not reach `peer`. */
export function dropEvent(peer: NodeAddress, msg: WireMessage, bytes: number, reason: DropReason): DropEvent {
  const e: DropEvent = { peer, reason, kind: msg.kind, bytes }
  if (msg.kind === 'envelope') e.recipient = msg.to
  return e
}

export interface PeerStats {
  peer: string
  connected: boolean
  incarnation: number | null
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  /** Queue depth: bytes and frames waiting to be written. */
  queuedBytes: number
  queuedFrames: number
  drops: Partial<Record<DropReason, number>>
  reconnects: number
  handshakeFailures: number
  /** Last heartbeat round trip in milliseconds, or null before the first. */
  rttMs: number | null
  /** What became of the messages sent to the peer. */
  delivery: DeliveryStats
}

export interface TransportStats {
  self: string
  peers: number
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  queuedBytes: number
  drops: Partial<Record<DropReason, number>>
  reconnects: number
  handshakeFailures: number
  /** Connections closed for what they sent, by error code (BAD_FRAME, HANDSHAKE_TIMEOUT, ...). */
  rejected: Partial<Record<string, number>>
  inboundConnections: number
  /** Peers in the transport's table (connected or not); bounded by maxPeers. */
  knownPeers: number
  /** Bytes held in unfinished chunked messages, all connections together. */
  reassemblyBytes: number
  /** Dials that had to wait for a free slot under maxConcurrentDials. */
  dialsQueued: number
  /** What became of the messages sent, over every peer (forgotten ones included). */
  delivery: DeliveryStats
}

/** Events both transports emit (bare-events EventEmitter). */
export interface TransportEventMap {
  /** A connection to `peer` is up, past the handshake; `incarnation` is the peer's run. */
  'peer-connected': [peer: NodeAddress, incarnation: number]
  /** The connection to `peer` closed; `cause` is null for an orderly close. */
  'peer-disconnected': [peer: NodeAddress, cause: ClusterError | null]
  /** `peer` came back with a new incarnation: the process restarted. */
  'peer-restarted': [peer: NodeAddress, incarnation: number, previous: number]
  /** A message was not delivered (queue full, peer unreachable, shut down...): counted too. */
  drop: [event: DropEvent]
  /** A connection was closed for what it sent (bad frame, failed handshake, ...). */
  'connection-error': [err: ClusterError, remote: string]
  /** A heartbeat of ours came back after `rttMs`. */
  heartbeat: [peer: NodeAddress, rttMs: number]
  /** A dial to `peer` or its handshake failed; the transport retries with backoff. */
  'dial-failed': [peer: NodeAddress, cause: ClusterError]
}

type Listener<E extends keyof TransportEventMap> = (...args: TransportEventMap[E]) => unknown

/**
 * A Transport that says what happens on it: events, stats and its incarnation. Both transports
 * implement it, and it is what a cluster takes, so no layer above reaches past the interface.
 */
export interface ObservableTransport extends Transport {
  /** Random per start, larger after a restart; peers see it in the handshake. */
  readonly incarnation: number
  /** Totals over every connection: bytes, frames, drops by reason, connections refused. */
  stats(): TransportStats
  /** One peer's counters and round-trip time, or null for a peer never seen. */
  stats(peer: NodeAddress): PeerStats | null
  /**
   * Sends a heartbeat to `peer` unless one went out less than `withinMs` ago (default 0),
   * connecting if need be. Its ack emits 'heartbeat' with the round trip and sets
   * `stats(peer).rttMs`. The one way heartbeats are made.
   */
  heartbeat(peer: NodeAddress, withinMs?: number): void
  /**
   * A layer above refuses a message that arrived from `from` (an envelope to a recipient it
   * does not serve, say): counted in `stats(from).drops[reason]` and emitted as 'drop', as the
   * transport's own refusals are, so nothing is dropped without a count.
   */
  refuse(from: NodeAddress, msg: WireMessage, reason: DropReason): void
  /**
   * The transport finds peers by itself (hyperswarm on a topic): the cluster counts every peer it
   * connects to as a seed. Absent: false.
   */
  readonly discovers?: boolean
  /**
   * The key pair the transport's identity rests on, when it has one (a swarm node's): the cluster
   * signs its membership records with it, so a node's address and its records share one key.
   */
  readonly signingKeyPair?: SigningKeyPair
  /**
   * Told the actor system's name by `Cluster.join` before `start()`, for a transport made without
   * one (its address and cluster name come from it). Throws BAD_OPTIONS if it was made for another.
   */
  bindSystem?(name: string): void
  /**
   * Keeps this run of `peer` out (a removed member): closes its connection and refuses its hellos
   * from now on unless they come from a later incarnation (the process restarted). Where absent,
   * the cluster calls `disconnect`.
   */
  exclude?(peer: NodeAddress): void
  /** Listens for one of TransportEventMap's events. */
  on<E extends keyof TransportEventMap>(event: E, fn: Listener<E>): this
  /** Stops listening. */
  off<E extends keyof TransportEventMap>(event: E, fn: Listener<E>): this
}

export function emptyPeerStats(peer: string): PeerStats {
  return {
    peer,
    connected: false,
    incarnation: null,
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    queuedBytes: 0,
    queuedFrames: 0,
    drops: {},
    reconnects: 0,
    handshakeFailures: 0,
    rttMs: null,
    delivery: { sent: 0, delivered: 0, dropped: {}, pending: 0, unackedBytes: 0, duplicates: 0 }
  }
}

export function countDrop(drops: Partial<Record<DropReason, number>>, reason: DropReason): void {
  drops[reason] = (drops[reason] ?? 0) + 1
}

/**
 * An incarnation per transport start: the start time in milliseconds times 1024 plus random low
 * bits, so a restarted process has a larger incarnation than the one before it (while clocks
 * move forward) and two processes started in the same millisecond still differ. Below 2^53.
 */
export function newIncarnation(): number {
  return Date.now() * 1024 + Math.floor(Math.random() * 1024)
}
