// Cluster: a node that joins through seeds, agrees on membership by gossip, watches a few
// neighbours with heartbeats, and lets the leader move members along (joining -> up,
// unreachable too long -> down, leaving or down -> removed).

import b4a from 'b4a'
import EventEmitter from 'bare-events'
import { now } from '../../backends/clock.ts'
import { randomBytes } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import { nodeLogger, scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { TcpTransport } from '../transport/tcp-transport.ts'
import type { DropEvent, ObservableTransport } from '../transport/transport.ts'
import { Backoff } from '../transport/backoff.ts'
import type { TlsSettings } from '../../backends/types.ts'
import { messageSize, type Observation, type EnvelopeMessage, type GossipMessage, type SubsystemMessage, type WireMessage } from '../wire/index.ts'
import { Channel, type ChannelHandler } from './channel.ts'
import { Diagnostics } from './diagnostics.ts'
import { Readiness, type ReadyOptions } from './ready.ts'
import { clusterStatus, type ClusterStatus } from './status.ts'
import { clusterFamilies, formatMetrics, type MetricsSource } from './metrics.ts'
import type { PeerStats, TransportStats } from '../transport/transport.ts'
import { DEFAULT_MAX_MEMBERS, Membership, STATUS_RANK, type Member, type MemberRecord, type Refusal } from './membership.ts'
import { Convergence } from './convergence.ts'
import { PauseDetector } from './pause-detector.ts'
import { PHI_DEFAULTS, PhiAccrualDetector, type PhiAccrualOptions } from './phi-accrual.ts'
import { newKeyPair, type SigningKeyPair } from './record-signing.ts'

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
   * Every this many gossip rounds, the whole digest goes out instead of a summary.
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

// Leader rounds the leader waits for reachable members to agree before it acts on its own view.
const CONVERGENCE_WAIT_ROUNDS = 10

// Messages a sleeping node (tests only) holds before it counts the rest as discarded.
const SLEEP_INBOX = 10_000

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

/**
 * A node of the cluster: joins through seeds, agrees on membership by gossip, watches its
 * neighbours by heartbeats, and emits the members' changes (ClusterEventMap).
 */
export class Cluster extends EventEmitter<ClusterEventMap> {
  /** The transport carrying this node's traffic: its stats and peer events. */
  readonly transport: ObservableTransport
  /** This run of the node: a restart on the same address has a larger one and replaces it. */
  readonly incarnation: number
  /** True for a node that follows the cluster without being a member. */
  readonly clientOnly: boolean
  /**
   * Set by the layer that routes envelopes (the actor system).
   * @internal
   */
  onenvelope: EnvelopeHandler | null
  private _membership: Membership
  private _log: Logger
  private _opts: Required<Omit<ClusterOptions, 'host' | 'port' | 'seeds' | 'transport' | 'tls' | 'secret' | 'roles' | 'log' | 'failureDetector' | 'clientOnly' | 'serializeLocalMessages' | 'keyPair'>>
  private _phi: PhiAccrualOptions
  private _seeds: NodeAddress[]
  private _joined: boolean
  private _stopped: boolean
  private _gossipTimer: TimerHandle | null
  private _heartbeatTimer: TimerHandle | null
  private _seedTimer: TimerHandle | null
  private _seedBackoff: Backoff
  private _detectors: Map<string, PhiAccrualDetector>
  private _unreachableSince: Map<string, number>
  private _removedAt: Map<string, number>
  private _view: Map<string, Member>
  private _leader: NodeAddress | null
  private _ontransport: {
    heartbeat: (peer: NodeAddress) => void
    drop: (e: DropEvent) => void
    disconnected: (peer: NodeAddress) => void
    connected: (peer: NodeAddress) => void
  }
  private _stats: ClusterStats
  private _channels: Map<string, Channel>
  private _leaving: boolean
  private _heartbeatPause: PauseDetector
  private _convergence: Convergence
  // Leader rounds spent waiting for members that are reachable but have not agreed.
  private _waitedRounds: number
  private _gossipPause: PauseDetector
  private _lastRefutation: number
  private _refusalsLogged: number
  /** While asleep (tests only), what arrives waits here, as the kernel would hold it. */
  private _asleep: [NodeAddress, WireMessage][] | null
  private _beforeLeave: Set<() => Promise<void>>
  private _prepared: Promise<void> | null
  private _diagnostics: Diagnostics
  private _readiness: Readiness
  private _metricsSources: MetricsSource[]

  /**
   * Starts this node's transport and joins through `opts.seeds`, retrying with backoff until
   * one answers; resolves once the transport listens (await `ready()` to be up). `system` is an
   * ActorSystem, or any `{ name, log }`.
   */
  static async join(system: ClusterSystem, opts: ClusterOptions = {}): Promise<Cluster> {
    // Every line names the node it comes from.
    const log = nodeLogger(opts.log ?? system.log ?? silentLogger, () => transport.self.key)
    const transport: ObservableTransport =
      opts.transport ??
      new TcpTransport({
        self: new NodeAddress(system.name, opts.host ?? CLUSTER_DEFAULTS.host, opts.port ?? (opts.clientOnly === true ? 0 : CLUSTER_DEFAULTS.port)),
        log,
        tls: opts.tls ?? null,
        secret: opts.secret ?? null,
        cluster: system.name,
        // A seed is named by the address it announces; localhost:P reaches 127.0.0.1:P.
        seeds: (opts.seeds ?? []).map((s) => NodeAddress.from(s, system.name))
      })
    if (opts.clientOnly === true && (opts.seeds ?? []).length === 0 && transport.discovers !== true) {
      throw ClusterError.BAD_OPTIONS('a client-only node needs seeds')
    }
    transport.bindSystem?.(system.name)
    await transport.start()
    const cluster = new Cluster(transport, system, { ...opts, log })
    system._attachCluster?.(cluster, opts)
    cluster._start()
    return cluster
  }

  /** A node on a transport of your own that has not started; `Cluster.join` is the usual way. */
  constructor(transport: ObservableTransport, system: ClusterSystem, opts: ClusterOptions = {}) {
    super()
    this.transport = transport
    this.incarnation = transport.incarnation
    this.clientOnly = opts.clientOnly === true
    this.onenvelope = null
    const keyPair = opts.keyPair ?? transport.signingKeyPair ?? newKeyPair()
    this._membership = new Membership(transport.self, this.incarnation, opts.roles ?? [], keyPair, {
      observer: this.clientOnly,
      maxMembers: opts.maxMembers ?? CLUSTER_DEFAULTS.maxMembers
    })
    this._log = scopedLogger(opts.log ?? system.log ?? silentLogger, 'cluster')
    this._opts = {
      gossipIntervalMs: opts.gossipIntervalMs ?? CLUSTER_DEFAULTS.gossipIntervalMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? CLUSTER_DEFAULTS.heartbeatIntervalMs,
      monitoredMembers: opts.monitoredMembers ?? CLUSTER_DEFAULTS.monitoredMembers,
      downAfterMs: opts.downAfterMs ?? CLUSTER_DEFAULTS.downAfterMs,
      downingRule: opts.downingRule ?? ((_m, unreachableForMs) => unreachableForMs >= this._opts.downAfterMs),
      unreachableGossipEvery: opts.unreachableGossipEvery ?? CLUSTER_DEFAULTS.unreachableGossipEvery,
      seedRetryBaseMs: opts.seedRetryBaseMs ?? CLUSTER_DEFAULTS.seedRetryBaseMs,
      seedRetryMaxMs: opts.seedRetryMaxMs ?? CLUSTER_DEFAULTS.seedRetryMaxMs,
      tombstoneMs: opts.tombstoneMs ?? CLUSTER_DEFAULTS.tombstoneMs,
      leaveTimeoutMs: opts.leaveTimeoutMs ?? CLUSTER_DEFAULTS.leaveTimeoutMs,
      maxMembers: opts.maxMembers ?? CLUSTER_DEFAULTS.maxMembers,
      fullGossipEvery: opts.fullGossipEvery ?? CLUSTER_DEFAULTS.fullGossipEvery
    }
    this._phi = { firstHeartbeatEstimateMs: this._opts.heartbeatIntervalMs, ...opts.failureDetector }
    this._seeds = (opts.seeds ?? []).map((s) => NodeAddress.from(s, system.name))
    this._joined = false
    this._stopped = false
    this._gossipTimer = null
    this._heartbeatTimer = null
    this._seedTimer = null
    this._seedBackoff = new Backoff({ baseMs: this._opts.seedRetryBaseMs, maxMs: this._opts.seedRetryMaxMs })
    this._detectors = new Map()
    this._unreachableSince = new Map()
    this._removedAt = new Map()
    this._view = new Map()
    this._leader = null
    this._ontransport = {
      heartbeat: (peer) => {
        if (this._asleep === null) this._detectors.get(peer.key)?.heartbeat(now())
      },
      drop: (e) => this.emit('drop', e),
      disconnected: (peer) => this.emit('peer-disconnected', peer),
      connected: (peer) => this._onpeerconnected(peer)
    }
    this._stats = {
      gossipRounds: 0,
      gossipMessagesSent: 0,
      gossipBytesSent: 0,
      heartbeatsSent: 0,
      unhandledMessages: 0,
      refusedRecords: {},
      forgersDisconnected: 0,
      pausesDetected: 0,
      refutations: 0,
      gossipErrors: 0,
      discarded: {}
    }
    this._channels = new Map()
    this._leaving = false
    this._beforeLeave = new Set()
    this._prepared = null
    this._metricsSources = []
    const pause = this._phi.acceptableHeartbeatPauseMs ?? PHI_DEFAULTS.acceptableHeartbeatPauseMs
    this._heartbeatPause = new PauseDetector(this._opts.heartbeatIntervalMs, pause)
    this._gossipPause = new PauseDetector(this._opts.gossipIntervalMs, pause)
    this._convergence = new Convergence()
    this._waitedRounds = 0
    this._lastRefutation = 0
    this._refusalsLogged = 0
    this._asleep = null
    this._diagnostics = new Diagnostics(this, transport, this._seeds, this._log, () => this.self, opts.tls != null)
    this._readiness = new Readiness(
      () => this.isReady(),
      (ms) => `${this.self.toString()} is not ${this.clientOnly ? 'connected' : 'up'} after ${ms} ms; seeds tried: ${this._diagnostics.seedAnswers().join(', ') || 'none'}`
    )
  }

  /**
   * @internal For tests: this node stops for `ms` as a stopped process would (no timers, nothing
   * it receives handled), then its timers fire, late, and then what arrived meanwhile is handled.
   */
  async _sleepFor(ms: number): Promise<void> {
    if (this._stopped || this._asleep !== null) return
    this._asleep = []
    for (const t of [this._gossipTimer, this._heartbeatTimer]) if (t !== null) clearInterval(t)
    await sleep(ms)
    const held = this._asleep
    this._asleep = null
    if (this._stopped) return
    this._startTimers()
    this._onheartbeattick()
    this._ongossiptick()
    for (const [from, msg] of held) this._onmessage(from, msg)
  }

  /** This node's public key (32 bytes, Ed25519), which signs its record. */
  get publicKey(): Uint8Array {
    return this._membership.keys.publicKey
  }

  /**
   * Resolves once this node is up in the cluster (a client-only node: once it has a view of it).
   * Rejects with READY_TIMEOUT naming the seeds tried and what each answered, or with
   * TRANSPORT_CLOSED if the node stops first.
   */
  ready(opts: ReadyOptions = {}): Promise<void> {
    return this._readiness.wait(opts)
  }

  /** True once this node is up (a client-only node: once it has a view of the cluster). */
  isReady(): boolean {
    return this.clientOnly ? this._joined : this._membership.own.status === 'up'
  }

  /** Members with status, reachability and roles, the leader, and per peer RTT, traffic, queue and drops. */
  status(): ClusterStatus {
    return clusterStatus(this)
  }

  /** Every counter this node keeps, as Prometheus text exposition (serve it as `text/plain; version=0.0.4`). */
  metrics(): string {
    const peers: PeerStats[] = []
    const totals: TransportStats = this.transport.stats()
    const seen = new Set<string>()
    for (const a of [...this.members().map((m) => m.address), ...this.transport.peers()]) {
      if (a.equals(this.self) || seen.has(a.key)) continue
      seen.add(a.key)
      const s = this.transport.stats(a)
      if (s !== null) peers.push(s)
    }
    const families = clusterFamilies(this.stats(), this.members(), this.self, this._leader, totals, peers)
    for (const source of this._metricsSources) families.push(...source())
    return formatMetrics(families)
  }

  /** Adds metric families to `metrics()` (the actor system adds its own when it joins). */
  addMetrics(source: MetricsSource): void {
    this._metricsSources.push(source)
  }

  /** This node's address. */
  get self(): NodeAddress {
    return this.transport.self
  }

  /** The leader: the lowest address among reachable up members, or null. */
  get leader(): NodeAddress | null {
    return this._leader
  }

  /** True once the node has left or shut down. */
  get stopped(): boolean {
    return this._stopped
  }

  /**
   * Every member this node knows, removed ones (still remembered) included, sorted by address.
   * A client-only node is not among them.
   */
  members(): Member[] {
    return this._membership.members()
  }

  /** The member at `address`, or null when this node does not know it. */
  member(address: NodeAddress): Member | null {
    return this.members().find((m) => m.address.equals(address)) ?? null
  }

  /** Opens a named channel (see Channel); one per name per node. */
  channel(name: string, onmessage: ChannelHandler | null = null): Channel {
    if (typeof name !== 'string' || name.length === 0 || name.length > 128) throw ClusterError.BAD_OPTIONS('a channel name is 1 to 128 characters')
    if (this._channels.has(name)) throw ClusterError.CHANNEL_TAKEN(`channel ${JSON.stringify(name)} is open`)
    const channel = new Channel(this, name, onmessage)
    this._channels.set(name, channel)
    return channel
  }

  private async _runBeforeLeave(): Promise<void> {
    if (this._beforeLeave.size === 0 || this._stopped) return
    let timer: TimerHandle | null = null
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this._log.warn(`tasks before leaving took more than ${this._opts.leaveTimeoutMs} ms; leaving anyway`)
        resolve()
      }, this._opts.leaveTimeoutMs)
    })
    const tasks = [...this._beforeLeave].map((task) =>
      task().catch((err: unknown) => this._log.warn('a task before leaving failed', err))
    )
    await Promise.race([Promise.all(tasks), timeout])
    if (timer !== null) clearTimeout(timer)
  }

  /** @internal */
  _closeChannel(channel: Channel): void {
    if (this._channels.get(channel.name) === channel) this._channels.delete(channel.name)
  }

  /** Gossip rounds, gossip messages and bytes sent, heartbeats sent, unhandled messages. */
  stats(): ClusterStats {
    return { ...this._stats, refusedRecords: { ...this._stats.refusedRecords }, discarded: { ...this._stats.discarded } }
  }

  /**
   * Runs `task` when this node leaves gracefully, before the others see it leaving (a layer above
   * hands its work over there). Tasks run together, bounded by leaveTimeoutMs. Returns a remover.
   */
  beforeLeave(task: () => Promise<void>): () => void {
    this._beforeLeave.add(task)
    return () => this._beforeLeave.delete(task)
  }

  /** Runs the beforeLeave tasks, once; leave() waits for them too. */
  prepareLeave(): Promise<void> {
    if (this._prepared === null) this._prepared = this._runBeforeLeave()
    return this._prepared
  }

  /**
   * Leaves gracefully: the others see this node leaving, then removed. Resolves once removed (or
   * after leaveTimeoutMs), with the transport shut down.
   */
  async leave(): Promise<void> {
    if (this._stopped) return
    await this.prepareLeave()
    if (this._stopped) return
    if (this.clientOnly) return this.shutdown()
    this._leaving = true
    this._membership.updateOwn({ status: 'leaving' })
    this._publish()
    const deadline = now() + this._opts.leaveTimeoutMs
    while (!this._stopped && now() < deadline) {
      const own = this._membership.own.status
      if (own === 'removed') break
      // Tell everyone, not just one member a round.
      for (const m of this._others()) this._sendGossip(m.address)
      await sleep(Math.min(this._opts.gossipIntervalMs, 200))
      if (this._membership.members().every((m) => m.address.equals(this.self) || m.status === 'removed' || m.status === 'down')) break
    }
    await this.shutdown()
  }

  /** Stops at once, without telling anyone: the others notice by heartbeats. */
  async shutdown(): Promise<void> {
    if (this._stopped) return
    this._stopped = true
    this._readiness.stop(ClusterError.TRANSPORT_CLOSED(`${this.self.toString()} has stopped`))
    this._diagnostics.close()
    for (const t of [this._gossipTimer, this._heartbeatTimer, this._seedTimer]) if (t !== null) clearTimeout(t)
    this._gossipTimer = this._heartbeatTimer = this._seedTimer = null
    await this.transport.shutdown()
    this.transport.off('heartbeat', this._ontransport.heartbeat)
    this.transport.off('drop', this._ontransport.drop)
    this.transport.off('peer-disconnected', this._ontransport.disconnected)
    this.transport.off('peer-connected', this._ontransport.connected)
    this.emit('stopped')
  }

  /**
   * Sends an envelope or subsystem message to a member over the cluster's transport.
   * @internal
   */
  send(to: NodeAddress, msg: WireMessage): void {
    this.transport.send(to, msg)
  }

  /** @internal */
  _start(): void {
    this.transport.setHandler((from, msg) => this._onmessage(from, msg))
    this.transport.on('heartbeat', this._ontransport.heartbeat)
    this.transport.on('drop', this._ontransport.drop)
    this.transport.on('peer-disconnected', this._ontransport.disconnected)
    this.transport.on('peer-connected', this._ontransport.connected)
    if (!this.clientOnly && (this._seeds.length === 0 || this._seeds[0]!.equals(this.self))) {
      // Its own first seed: this node starts the cluster.
      this._joined = true
      this._log.info(`${this.self.toString()} starts a new cluster`)
    } else {
      this._contactSeeds()
    }
    this._publish()
    this._startTimers()
  }

  private _startTimers(): void {
    this._gossipTimer = setInterval(() => this._ongossiptick(), this._opts.gossipIntervalMs)
    this._heartbeatTimer = setInterval(() => this._onheartbeattick(), this._opts.heartbeatIntervalMs)
  }

  /**
   * On a transport that finds its peers (a swarm), every peer it connects to is a seed: this node
   * gossips to one it has no record of, so two nodes that each started a cluster merge them.
   */
  private _onpeerconnected(peer: NodeAddress): void {
    if (this._stopped || this.transport.discovers !== true || this._seeds.length > 0) return
    if (this._membership.record(peer) !== null) return
    this._sendGossip(peer)
  }

  private _contactSeeds(): void {
    if (this._stopped || this._joined) return
    for (const seed of this._seeds) if (!seed.equals(this.self)) this._sendGossip(seed)
    const first = this._seedBackoff.failures === 0
    const wait = this._seedBackoff.fail()
    if (!first) this._diagnostics.firstSeedRetry(wait)
    this._log.debug(`asked the seeds to let this node in; again in ${wait} ms unless one answers`)
    this._seedTimer = setTimeout(() => this._contactSeeds(), wait)
  }

  private _onmessage(from: NodeAddress, msg: WireMessage): void {
    if (this._asleep !== null && !this._stopped) {
      if (this._asleep.length < SLEEP_INBOX) this._asleep.push([from, msg])
      else if (msg.kind === 'envelope' || msg.kind === 'subsystem') this._discard('stopped')
      return
    }
    if (this._stopped) {
      // The transport delivers until its shutdown ends; what was meant for the layers above is lost.
      if (msg.kind === 'envelope' || msg.kind === 'subsystem') this._discard('stopped')
      return
    }
    switch (msg.kind) {
      case 'gossip':
        this._ongossip(from, msg)
        return
      case 'heartbeat':
        // The transport answers it; its own acks come as 'heartbeat' events (see _start).
        return
      case 'leave':
        return
      case 'envelope':
        if (this.onenvelope !== null) this.onenvelope(from, msg)
        else this._unhandled(from, msg)
        return
      case 'subsystem':
        this._onsubsystem(from, msg)
        return
      default:
        this.emit('message', from, msg)
    }
  }

  private _onsubsystem(from: NodeAddress, msg: SubsystemMessage): void {
    if (msg.channel === REFUSED_CHANNEL) {
      const reason = b4a.toString(msg.body.subarray(0, 1024), 'utf8')
      this._log.error(`${from.toString()} did not let this node in: ${reason}`)
      this.emit('join-refused', ClusterError.MEMBERSHIP_FULL(reason.replace(/^MEMBERSHIP_FULL: /, '')), from)
      return
    }
    const handler = this._channels.get(msg.channel)?.onmessage
    if (handler === undefined || handler === null) {
      this._unhandled(from, msg)
      return
    }
    try {
      handler(from, msg.body)
    } catch (err) {
      this._log.error(`the handler of channel ${msg.channel} threw`, err)
    }
  }

  /** Passed to 'message' listeners; with none, counted and logged, never silently lost. */
  private _unhandled(from: NodeAddress, msg: EnvelopeMessage | SubsystemMessage): void {
    if (this.listenerCount('message') > 0) {
      this.emit('message', from, msg)
      return
    }
    this._stats.unhandledMessages++
    this._discard(msg.kind === 'envelope' ? 'no-handler' : 'no-channel')
    this._log.debug(`nothing here takes a ${msg.kind} ${msg.kind === 'subsystem' ? `on channel ${msg.channel}` : `to ${msg.to}`} from ${from.toString()}`)
  }

  private _discard(reason: ClusterDiscardReason): void {
    this._stats.discarded[reason] = (this._stats.discarded[reason] ?? 0) + 1
  }

  /** Nothing a peer sends can throw out of here: a failure is counted and logged. */
  private _ongossip(from: NodeAddress, msg: GossipMessage): void {
    try {
      this._handleGossip(from, msg)
    } catch (err) {
      this._stats.gossipErrors++
      this._log.warn(`gossip from ${from.toString()} failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private _handleGossip(from: NodeAddress, msg: GossipMessage): void {
    const { changes, refused } = this._membership.merge(msg.deltas, from)
    if (refused.length > 0 && this._onrefused(from, refused)) {
      if (changes.length > 0) this._publish()
      return
    }
    if (!this._joined && this._membership.record(from) !== null) {
      this._joined = true
      if (this._seedTimer !== null) clearTimeout(this._seedTimer)
      this._seedTimer = null
      this._log.info(`joined through ${from.toString()}`)
    }
    this._readiness.update()
    if (msg.summary !== null) {
      // A summary: silence if the views agree, else our whole digest. A round the leader opened
      // is answered with a summary of ours when they agree, so the leader knows this node has
      // seen its view.
      this._convergence.report(from, msg.summary)
      if (!this._membership.sameSummary(msg.summary)) this._sendGossip(from)
      else if (msg.reply && !this.clientOnly && sameAddress(this._membership.leader(), from)) this._sendSummary(from, false)
    } else if (msg.reply) {
      // A digest: answer with what they lack, and ask for what we lack.
      const { newer, wanted } = this._membership.compare(msg.digest)
      this._sendGossipMessage(from, { kind: 'gossip', digest: wanted, deltas: newer, reply: false, summary: null })
    } else if (msg.digest.length > 0) {
      this._sendGossipMessage(from, { kind: 'gossip', digest: [], deltas: this._membership.deltasFor(msg.digest), reply: false, summary: null })
    }
    if (changes.length > 0) {
      this._refuteIfAccused()
      this._publish()
    }
  }

  /**
   * Counts what was refused; a sender caught forging loses its connection and what else it sent
   * in that message. Returns whether the message is to be dropped.
   */
  private _onrefused(from: NodeAddress, refused: Refusal[]): boolean {
    let forged: Refusal | null = null
    for (const r of refused) {
      const code = r.error.code
      this._stats.refusedRecords[code] = (this._stats.refusedRecords[code] ?? 0) + 1
      if (r.forged && forged === null) forged = r
      if (code === 'MEMBERSHIP_FULL' && r.address === from.toString()) {
        this._log.warn(`refused ${from.toString()}: ${r.error.message}`)
        this.transport.send(from, { kind: 'subsystem', channel: REFUSED_CHANNEL, body: b4a.from(r.error.message, 'utf8') })
      }
    }
    if (this._refusalsLogged < 20) {
      this._refusalsLogged++
      this._log.warn(`refused ${refused.length} record(s) from ${from.toString()}: ${refused[0]!.error.message}`)
    }
    if (forged === null) return false
    this._stats.forgersDisconnected++
    this.transport.disconnect(from)
    return true
  }

  /**
   * SWIM's refutation: a live node that some member calls unreachable at its current record
   * answers with a newer one, which makes that observation stale everywhere; a member that still
   * cannot reach it says so again about the new version. At most once a heartbeat interval.
   */
  private _refuteIfAccused(): void {
    if (this.clientOnly || this._stopped || !this._membership.accused()) return
    const own = this._membership.own.status
    if (own === 'down' || own === 'removed') return
    const t = now()
    if (t - this._lastRefutation < this._opts.heartbeatIntervalMs) return
    this._lastRefutation = t
    this._stats.refutations++
    this._membership.updateOwn({})
    this._log.debug(`${this.self.toString()} is called unreachable while alive; refuting`)
  }

  private _ongossiptick(): void {
    if (this._stopped) return
    this._stats.gossipRounds++
    if (this._gossipPause.tick(now())) {
      // Asleep for a while: how long others were unreachable says nothing this round.
      this._unreachableSince.clear()
    } else if (this._joined && !this.clientOnly) {
      this._leaderActions()
    }
    this._forgetOldTombstones()
    const target = this._gossipTarget()
    if (target === null) return
    // Now and then the whole digest, whatever the summaries say.
    if (this._stats.gossipRounds % this._opts.fullGossipEvery === 0) this._sendGossip(target)
    else this._sendSummary(target)
  }

  private _gossipTarget(): NodeAddress | null {
    const others = this._others()
    if (others.length === 0) return null
    const unreachable = others.filter((m) => !m.reachable)
    const reachable = others.filter((m) => m.reachable)
    const pool = reachable.length === 0 || (unreachable.length > 0 && this._stats.gossipRounds % this._opts.unreachableGossipEvery === 0) ? unreachable : reachable
    return pool[Math.floor(Math.random() * pool.length)]!.address
  }

  private _others(): Member[] {
    return this._membership.members().filter((m) => !m.address.equals(this.self) && m.status !== 'removed')
  }

  /** Opens a full exchange: our whole digest, to be answered with what we lack. */
  private _sendGossip(to: NodeAddress): void {
    this._sendGossipMessage(to, { kind: 'gossip', digest: this._membership.digest(), deltas: [], reply: true, summary: null })
  }

  /** Opens a round cheaply: a summary of our view, answered only if the views differ. */
  private _sendSummary(to: NodeAddress, reply = true): void {
    this._sendGossipMessage(to, { kind: 'gossip', digest: [], deltas: [], reply, summary: this._membership.summary(randomBytes(8)) })
  }

  private _sendGossipMessage(to: NodeAddress, msg: GossipMessage): void {
    try {
      const size = messageSize(msg)
      this._stats.gossipMessagesSent++
      this._stats.gossipBytesSent += size
      this.transport.send(to, msg)
    } catch (err) {
      this._discard('not-sent')
      this._log.warn(`could not gossip to ${to.toString()}: ${(err as ClusterError).message}`)
    }
  }

  /** Heartbeats to the next few members on the ring, and what their silence says. */
  private _onheartbeattick(): void {
    if (this._stopped) return
    const t = now()
    if (this.clientOnly) {
      // Nobody's judge, but the round trip to each member is what a status view shows.
      for (const m of this._others()) if (m.status === 'up') this.transport.heartbeat(m.address, this._opts.heartbeatIntervalMs / 2)
      return
    }
    const paused = this._heartbeatPause.tick(t)
    if (paused) {
      // This node heard nothing while it slept: start every window again instead of judging.
      this._stats.pausesDetected++
      this._detectors.clear()
      this._log.warn(`this node's timers ran late by more than ${this._heartbeatPause.acceptablePauseMs} ms; judging nobody on this tick`)
    }
    const watched = this._watched()
    const keys = new Set(watched.map((a) => a.key))
    for (const key of [...this._detectors.keys()]) if (!keys.has(key)) this._detectors.delete(key)
    const unreachable: Observation[] = []
    for (const address of watched) {
      let detector = this._detectors.get(address.key)
      if (detector === undefined) {
        detector = new PhiAccrualDetector(this._phi)
        detector.heartbeat(t) // the clock starts when watching starts
        this._detectors.set(address.key, detector)
      }
      if (!detector.isAvailable(t)) unreachable.push({ address: address.toString(), version: this._membership.record(address)?.version ?? 0 })
      // The transport makes heartbeats, one per connection per interval at most: one that went
      // out on the transport's own schedule lately does for this round too.
      this._stats.heartbeatsSent++
      this.transport.heartbeat(address, this._opts.heartbeatIntervalMs / 2)
    }
    if (paused) return
    const own = this._membership.own.unreachable
    if (unreachable.length !== own.length || unreachable.some((o, i) => o.address !== own[i]!.address || o.version !== own[i]!.version)) {
      this._membership.updateOwn({ unreachable })
      this._publish()
    }
  }

  /** The members after this one on a ring of everyone not down or removed, sorted by address. */
  private _watched(): NodeAddress[] {
    const ring = this._membership
      .records()
      .filter((r) => STATUS_RANK[r.status] <= STATUS_RANK.leaving)
      .map((r) => r.address)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const at = ring.findIndex((a) => a.equals(this.self))
    if (at === -1) return []
    const out: NodeAddress[] = []
    for (let i = 1; i < ring.length && out.length < this._opts.monitoredMembers; i++) out.push(ring[(at + i) % ring.length]!)
    return out
  }

  private _leaderActions(): void {
    const leader = this._membership.leader()
    if (leader === null || !leader.equals(this.self)) {
      this._unreachableSince.clear()
      return
    }
    const t = now()
    const members = this._membership.members()
    // Downing waits for nobody; moving members up or out waits until everyone has seen this view.
    // With everyone reachable but some never agreeing (a view that cannot take a decision yet, or
    // a member that will not say), the leader acts on its own view after convergenceWaitRounds.
    const laggards = this._convergence.laggards(this._membership)
    if (laggards !== null) for (const a of laggards) this._sendSummary(a)
    if (laggards === null || laggards.length === 0) this._waitedRounds = 0
    else this._waitedRounds++
    const converged = laggards !== null && (laggards.length === 0 || this._waitedRounds > CONVERGENCE_WAIT_ROUNDS)
    let changed = false
    for (const m of members) {
      if (m.address.equals(this.self) && m.status !== 'joining') continue
      if (!m.reachable && STATUS_RANK[m.status] <= STATUS_RANK.leaving) {
        const since = this._unreachableSince.get(m.address.key) ?? t
        this._unreachableSince.set(m.address.key, since)
        if (this._opts.downingRule(m, t - since, members)) {
          this._log.info(`marking ${m.address.toString()} down: unreachable for ${t - since} ms`)
          changed = this._membership.decide(m.address, 'down') !== null || changed
        }
        continue
      }
      this._unreachableSince.delete(m.address.key)
      if (!converged) continue
      if (m.status === 'joining' && m.reachable) {
        changed = this._membership.decide(m.address, 'up') !== null || changed
      } else if (m.status === 'leaving' || m.status === 'down') {
        changed = this._membership.decide(m.address, 'removed') !== null || changed
      }
    }
    // What another leader decided is signed again by this one, so that every node can check it
    // against the leader of its own view (one that joined after the other left included).
    const self = this.self.toString()
    for (const r of this._membership.records()) {
      if (r.decision !== null && r.decision.by !== self && STATUS_RANK[r.status] >= STATUS_RANK.up) {
        const status = r.decision.status as 'up' | 'down' | 'removed'
        changed = this._membership.decide(r.address, status, true) !== null || changed
      }
    }
    if (changed) this._publish()
  }


  private _forgetOldTombstones(): void {
    const t = now()
    for (const [key, at] of this._removedAt) {
      if (t - at < this._opts.tombstoneMs) continue
      const r = this._membership.records().find((x) => x.address.key === key)
      if (r !== undefined) this._membership.forget(r.address)
      this._removedAt.delete(key)
    }
  }

  /** Compares the view with the last one published and emits what changed. */
  private _publish(): void {
    const next = new Map<string, Member>()
    for (const m of this._membership.members()) next.set(m.address.key, m)
    for (const [key, m] of next) {
      const before = this._view.get(key)
      if (before === undefined || before.incarnation !== m.incarnation) {
        if (before !== undefined && before.status !== 'removed') this.emit('member-removed', { ...before, status: 'removed' })
        if (m.status !== 'removed') this.emit('member-joined', m)
        if (STATUS_RANK[m.status] >= STATUS_RANK.up && m.status !== 'removed') this._emitStatus(m)
        continue
      }
      if (before.status !== m.status) this._emitStatus(m)
      if (before.reachable !== m.reachable && STATUS_RANK[m.status] <= STATUS_RANK.leaving) {
        this.emit(m.reachable ? 'member-reachable' : 'member-unreachable', m)
      }
    }
    this._view = next
    this._readiness.update()
    for (const m of next.values()) {
      if (m.status === 'removed' && !this._removedAt.has(m.address.key)) {
        this._removedAt.set(m.address.key, now())
        if (m.address.equals(this.self)) continue
        if (this.transport.exclude !== undefined) this.transport.exclude(m.address)
        else this.transport.disconnect(m.address)
      }
    }
    const leader = this._membership.leader()
    if (!sameAddress(leader, this._leader)) {
      const previous = this._leader
      this._leader = leader
      this._log.debug(`leader is now ${leader?.toString() ?? 'nobody'}`)
      this.emit('leader-changed', leader, previous)
    }
    const own = this._membership.own.status
    if ((own === 'down' || own === 'removed') && !this._stopped && !this.clientOnly) {
      // The others have put this node out: it stops taking part.
      if (own === 'removed' && this._leaving) this._log.debug(`${this.self.toString()} has left; stopping`)
      else this._log.warn(`${this.self.toString()} was marked ${own} by the cluster; stopping`)
      void this.shutdown()
    }
  }

  private _emitStatus(m: Member): void {
    const event = STATUS_EVENT[m.status]
    if (event !== null) this.emit(event, m)
  }
}

const STATUS_EVENT: Record<MemberRecord['status'], 'member-up' | 'member-leaving' | 'member-down' | 'member-removed' | null> = {
  joining: null,
  up: 'member-up',
  leaving: 'member-leaving',
  down: 'member-down',
  removed: 'member-removed'
}

function sameAddress(a: NodeAddress | null, b: NodeAddress | null): boolean {
  return a === null ? b === null : a.equals(b)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
