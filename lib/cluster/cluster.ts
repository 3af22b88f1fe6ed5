// Cluster: a node that joins through seeds, agrees on membership by gossip, watches a few
// neighbours with heartbeats, and lets the leader move members along (joining -> up,
// unreachable too long -> down, leaving or down -> removed). The parts live beside it: gossip.ts
// (the exchange), leader-actions.ts, failure-detection.ts, view-events.ts (member events),
// seeds.ts (joining), leave.ts; this file ties them to the transport and the public API.

import b4a from 'b4a'
import EventEmitter from 'bare-events'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { nodeLogger, scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { TcpTransport } from '../transport/tcp-transport.ts'
import type { DropEvent, ObservableTransport, PeerStats, TransportStats } from '../transport/transport.ts'
import type { EnvelopeMessage, SubsystemMessage, WireMessage } from '../wire/index.ts'
import { Channel, type ChannelHandler } from './channel.ts'
import { resolveOptions, type ClusterContext, type ResolvedOptions } from './context.ts'
import { Convergence } from './convergence.ts'
import { Diagnostics } from './diagnostics.ts'
import { FailureDetection } from './failure-detection.ts'
import { GossipExchange } from './gossip.ts'
import { LeaderActions } from './leader-actions.ts'
import { Leave, sleep } from './leave.ts'
import { Membership, type Member } from './membership.ts'
import { clusterFamilies } from './cluster-metrics.ts'
import { formatMetrics, type MetricsSource } from './metrics.ts'
import {
  CLUSTER_DEFAULTS,
  REFUSED_CHANNEL,
  type ClusterDiscardReason,
  type ClusterEventMap,
  type ClusterOptions,
  type ClusterStats,
  type ClusterSystem,
  type EnvelopeHandler
} from './options.ts'
import { PauseDetector } from './pause-detector.ts'
import { PHI_DEFAULTS, type PhiAccrualOptions } from './phi-accrual.ts'
import { Readiness, type ReadyOptions } from './ready.ts'
import { newKeyPair } from './record-signing.ts'
import { SeedContact } from './seeds.ts'
import { clusterStatus, type ClusterStatus } from './status.ts'
import { ViewEvents } from './view-events.ts'

export { CLUSTER_DEFAULTS, REFUSED_CHANNEL } from './options.ts'
export type { ClusterDiscardReason, ClusterEventMap, ClusterOptions, ClusterStats, ClusterSystem, DowningRule, EnvelopeHandler } from './options.ts'

// Messages a sleeping node (tests only) holds before it counts the rest as discarded.
const SLEEP_INBOX = 10_000

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
  private _opts: ResolvedOptions
  private _seeds: NodeAddress[]
  private _joined: boolean
  private _stopped: boolean
  private _gossipTimer: TimerHandle | null
  private _heartbeatTimer: TimerHandle | null
  private _ontransport: {
    heartbeat: (peer: NodeAddress) => void
    drop: (e: DropEvent) => void
    disconnected: (peer: NodeAddress) => void
    connected: (peer: NodeAddress) => void
  }
  private _stats: ClusterStats
  private _channels: Map<string, Channel>
  private _gossipPause: PauseDetector
  /** While asleep (tests only), what arrives waits here, as the kernel would hold it. */
  private _asleep: [NodeAddress, WireMessage][] | null
  private _diagnostics: Diagnostics
  private _readiness: Readiness
  private _metricsSources: MetricsSource[]
  private _ctx: ClusterContext
  private _gossip: GossipExchange
  private _leaderActions: LeaderActions
  private _failures: FailureDetection
  private _viewEvents: ViewEvents
  private _seedContact: SeedContact
  private _leave: Leave

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
        ...(opts.listenHost === undefined ? {} : { listenHost: opts.listenHost }),
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
      maxMembers: opts.maxMembers ?? CLUSTER_DEFAULTS.maxMembers,
      monitoredMembers: opts.monitoredMembers ?? CLUSTER_DEFAULTS.monitoredMembers
    })
    this._log = scopedLogger(opts.log ?? system.log ?? silentLogger, 'cluster')
    this._opts = resolveOptions(opts)
    const phi: PhiAccrualOptions = { firstHeartbeatEstimateMs: this._opts.heartbeatIntervalMs, ...opts.failureDetector }
    this._seeds = (opts.seeds ?? []).map((s) => NodeAddress.from(s, system.name))
    this._joined = false
    this._stopped = false
    this._gossipTimer = null
    this._heartbeatTimer = null
    this._ontransport = {
      heartbeat: (peer) => {
        if (this._asleep === null) this._failures.heard(peer)
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
    this._metricsSources = []
    this._gossipPause = new PauseDetector(this._opts.gossipIntervalMs, phi.acceptableHeartbeatPauseMs ?? PHI_DEFAULTS.acceptableHeartbeatPauseMs)
    this._asleep = null
    this._diagnostics = new Diagnostics(this, transport, this._seeds, this._log, () => this.self, opts.tls != null)
    this._readiness = new Readiness(
      () => this.isReady(),
      (ms) => `${this.self.toString()} is not ${this.clientOnly ? 'connected' : 'up'} after ${ms} ms; seeds tried: ${this._diagnostics.seedAnswers().join(', ') || 'none'}`
    )
    const cluster = this
    this._ctx = {
      get self() {
        return transport.self
      },
      transport,
      membership: this._membership,
      opts: this._opts,
      stats: this._stats,
      log: this._log,
      clientOnly: this.clientOnly,
      get stopped() {
        return cluster._stopped
      },
      publish: () => this._viewEvents.publish(),
      discard: (reason) => this._discard(reason)
    }
    const convergence = new Convergence()
    this._gossip = new GossipExchange(this._ctx, convergence, (from) => this._heard(from))
    this._leaderActions = new LeaderActions(this._ctx, convergence, (to) => this._gossip.sendSummary(to))
    this._failures = new FailureDetection(this._ctx, phi)
    this._viewEvents = new ViewEvents(this._ctx, this, {
      onview: () => this._readiness.update(),
      leaving: () => this._leave.leaving,
      stop: () => void this.shutdown(),
      tellRemoved: (address) => this._gossip.sendRecordOf(address)
    })
    this._seedContact = new SeedContact(this._ctx, this._seeds, this._diagnostics, (to) => this._gossip.sendDigest(to), () => this._joined)
    this._leave = new Leave(this._ctx, { sendDigest: (to) => this._gossip.sendDigest(to), shutdown: () => this.shutdown() })
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
    this._failures.tick()
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

  /**
   * @internal The process exits once this node has stopped (leaveOnSignals, Pear's teardown):
   * pending `ready()` calls are let go instead of rejected, so the exit is not preceded by an
   * unhandled TRANSPORT_CLOSED from a script still awaiting `ready()`.
   */
  _abandonReady(): void {
    this._readiness.abandon()
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
    const families = clusterFamilies(this.stats(), this.members(), this.self, this.leader, totals, peers)
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
    return this._viewEvents.leader
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
    return this._leave.add(task)
  }

  /** Runs the beforeLeave tasks, once; leave() waits for them too. */
  prepareLeave(): Promise<void> {
    return this._leave.prepare()
  }

  /**
   * Leaves gracefully: the others see this node leaving, then removed. Resolves once removed (or
   * after leaveTimeoutMs), with the transport shut down.
   */
  leave(): Promise<void> {
    return this._leave.leave()
  }

  /** Stops at once, without telling anyone: the others notice by heartbeats. */
  async shutdown(): Promise<void> {
    if (this._stopped) return
    this._stopped = true
    this._readiness.stop(ClusterError.TRANSPORT_CLOSED(`${this.self.toString()} has stopped`))
    this._diagnostics.close()
    for (const t of [this._gossipTimer, this._heartbeatTimer]) if (t !== null) clearTimeout(t)
    this._gossipTimer = this._heartbeatTimer = null
    this._seedContact.stop()
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
      this._seedContact.contact()
    }
    this._viewEvents.publish()
    this._startTimers()
  }

  private _startTimers(): void {
    this._gossipTimer = setInterval(() => this._ongossiptick(), this._opts.gossipIntervalMs)
    this._heartbeatTimer = setInterval(() => this._failures.tick(), this._opts.heartbeatIntervalMs)
  }

  /**
   * On a transport that finds its peers (a swarm), every peer it connects to is a seed: this node
   * gossips to one it has no record of, so two nodes that each started a cluster merge them.
   */
  private _onpeerconnected(peer: NodeAddress): void {
    if (this._stopped || this.transport.discovers !== true || this._seeds.length > 0) return
    if (this._membership.record(peer) !== null) return
    this._gossip.sendDigest(peer)
  }

  private _ongossiptick(): void {
    if (this._stopped) return
    this._stats.gossipRounds++
    if (this._gossipPause.tick(now())) {
      // Asleep for a while: how long others were unreachable says nothing this round.
      this._leaderActions.resetClocks()
    } else if (this._joined && !this.clientOnly) {
      this._leaderActions.run()
    }
    this._viewEvents.closeRemoved()
    this._viewEvents.forgetOldTombstones()
    this._gossip.round()
  }

  /** A gossip message from `from` was merged: the first one from a member means this node is in. */
  private _heard(from: NodeAddress): void {
    if (!this._joined && this._membership.record(from) !== null) {
      this._joined = true
      this._seedContact.stop()
      this._log.info(`joined through ${from.toString()}`)
    }
    this._readiness.update()
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
        this._gossip.receive(from, msg)
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
}
