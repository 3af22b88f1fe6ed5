// Cluster sharding: entities, each known by a type name and an id, live on the runner nodes that
// registered their type. An entity's shard is a hash of its id; the leader allocates shards to
// runners (coordinator.ts), and every node routes a message for an entity to the owner of its
// shard (routing.ts), which hosts it (hosting.ts); shards move by handoff (handoff.ts). This file
// is the public face: it starts the parts, takes the cluster's events and the `sharding`
// channel's messages (messages.ts), and reports stats.

import EventEmitter from 'bare-events'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import type { Channel } from '../cluster/channel.ts'
import type { Cluster } from '../cluster/cluster.ts'
import type { Member } from '../cluster/membership.ts'
import { ActorRef } from '../actors/actor-ref.ts'
import type { ActorSystem } from '../actors/actor-system.ts'
import type { DropEvent } from '../transport/transport.ts'
import { ShardTable } from './allocation.ts'
import { Coordinator } from './coordinator.ts'
import type { MutableCore, ShardingCore } from './core.ts'
import { ENTITY_PREFIX, EntityRefOwner, TYPE_NAME, checkTypeName, parseEntityPath, validEntityId, type EntityRouter } from './entity-ref.ts'
import { Handoff } from './handoff.ts'
import { Hosting } from './hosting.ts'
import { MemoryMessageStorage, type MessageStorage } from './message-storage.ts'
import { SHARDING_CHANNEL, SHARDING_LIMITS, SHARDING_TAG, decodeShardingMessage, encodeShardingMessage, type ShardAllocation, type ShardingMessage, type ShardingReport } from './messages.ts'
import {
  SHARDING_DEFAULTS,
  type EntityFactory,
  type EntityTypeOptions,
  type ShardingCounters,
  type ShardingEventMap,
  type ShardingOptions,
  type ShardingStats
} from './options.ts'
import { Router } from './routing.ts'
import { shardOf } from './shard-id.ts'
import { shardingFamilies } from './sharding-metrics.ts'


const REF_CACHE_MAX = 10_000

/**
 * Cluster sharding on one node: entities by type and id, spread over the nodes that register
 * their type, reached through `entity(type, id)` from any node, client-only nodes included.
 */
export class Sharding extends EventEmitter<ShardingEventMap> {
  /** The actor system the entities run in. */
  readonly system: ActorSystem
  /** The cluster whose leader allocates the shards. */
  readonly cluster: Cluster
  /** Shards per entity type, the same on every node. */
  readonly numberOfShards: number
  /** Where messages wait until their entity has handled them (null: none). */
  readonly storage: MessageStorage | null
  private _core: ShardingCore
  private _log: Logger
  private _channel: Channel
  private _table: ShardTable
  private _router: Router
  private _hosting: Hosting
  private _handoff: Handoff
  private _coordinator: Coordinator
  private _counters: ShardingCounters
  private _refs: Map<string, ActorRef>
  /** Entity paths messages came to, parsed: path -> type, id and shard. */
  private _paths: Map<string, { type: string; id: string; shard: number }>
  private _entityRouter: EntityRouter
  private _refused: ClusterError | null
  private _stopped: boolean
  private _timer: TimerHandle | null
  private _listeners: [string, (...args: never[]) => void][]
  private _undo: (() => void)[]

  /** Starts sharding on a node whose system has joined `cluster`. */
  static start(system: ActorSystem, cluster: Cluster, opts: ShardingOptions = {}): Sharding {
    return new Sharding(system, cluster, opts)
  }

  /** The same as `Sharding.start(system, cluster, opts)`. */
  constructor(system: ActorSystem, cluster: Cluster, opts: ShardingOptions = {}) {
    super()
    const n = opts.numberOfShards ?? SHARDING_DEFAULTS.numberOfShards
    if (!Number.isInteger(n) || n < 1 || n > SHARDING_LIMITS.maxShards) throw ClusterError.BAD_OPTIONS(`numberOfShards is 1 to ${SHARDING_LIMITS.maxShards}`)
    if (system.cluster !== cluster) throw ClusterError.BAD_OPTIONS('the system has not joined this cluster')
    const tickMs = opts.tickMs ?? SHARDING_DEFAULTS.tickMs
    const bufferTimeoutMs = opts.bufferTimeoutMs ?? SHARDING_DEFAULTS.bufferTimeoutMs
    if (!(tickMs > 0)) throw ClusterError.BAD_OPTIONS('tickMs is more than 0')
    if (!(bufferTimeoutMs > 0)) throw ClusterError.BAD_OPTIONS('bufferTimeoutMs is more than 0')
    this.system = system
    this.cluster = cluster
    this.numberOfShards = n
    this.storage = opts.storage === undefined ? new MemoryMessageStorage() : opts.storage
    this._log = scopedLogger(system.log, 'sharding')
    this._channel = cluster.channel(SHARDING_CHANNEL, (from, body) => this._onmessage(from, body))
    this._table = new ShardTable(cluster.self, n)
    this._counters = { entitiesStarted: 0, passivations: 0, dropped: 0, droppedByReason: {}, handoffs: 0, forwarded: 0, redelivered: 0, badMessages: 0 }
    this._refused = null
    this._stopped = false
    const self = this
    const core: MutableCore = {
      system,
      cluster,
      log: this._log,
      channel: this._channel,
      storage: this.storage,
      table: this._table,
      counters: this._counters,
      // Set below, once the parts exist (each takes this object).
      router: null!,
      hosting: null!,
      handoff: null!,
      get refused() {
        return self._refused
      },
      get stopped() {
        return self._stopped
      },
      open: () => this._refused === null && !this._stopped && !system.terminated,
      send: (to, m) => this._send(to, m),
      report: () => this._report()
    }
    this._core = core
    this._coordinator = new Coordinator(
      {
        self: cluster.self,
        numberOfShards: n,
        members: () => cluster.members(),
        send: (to, m) => this._send(to, m),
        applyLocal: (a) => this._onallocation(cluster.self, a)
      },
      { maxMovesPerRound: opts.maxMovesPerRound ?? SHARDING_DEFAULTS.maxMovesPerRound, settleMs: tickMs * 2, reportTtlMs: tickMs * 10 },
      this._log
    )
    this._router = core.router = new Router(core, opts.bufferSize ?? SHARDING_DEFAULTS.bufferSize, bufferTimeoutMs)
    this._hosting = core.hosting = new Hosting(core)
    this._handoff = core.handoff = new Handoff(core, this._coordinator, tickMs)
    this._refs = new Map()
    this._paths = new Map()
    const router = this._router
    const table = this._table
    this._entityRouter = {
      tellEntity: (owner, msg, sender) => router.tellEntity(owner, msg, sender),
      // The answer comes from the node the ask went to, or from the shard's owner now.
      askEntity: (owner, ref, msg, askOpts, site) =>
        system._ask(ref, msg, askOpts, site, (from) => {
          const o = table.owner(owner.type, owner.shard)
          return o !== null && o.equals(from)
        }),
      addressString: () => system._addressString()
    }
    const away = (m: Member) => this._onaway(m)
    const back = (m: Member) => this._onback(m)
    const leader = () => this._ontick()
    const dropped = (e: DropEvent) => {
      // An entity message on its way out that the transport gave up on (not one it refused in).
      if (e.kind !== 'envelope' || e.reason === 'forbidden-recipient' || e.reason === 'no-handler') return
      if (e.recipient !== undefined && e.recipient.startsWith(ENTITY_PREFIX)) router.count('owner-lost')
    }
    this._listeners = [
      ['member-unreachable', away],
      ['member-down', away],
      ['member-removed', away],
      ['member-reachable', back],
      ['member-up', back],
      ['leader-changed', leader],
      ['drop', dropped]
    ]
    for (const [event, fn] of this._listeners) cluster.on(event as 'member-up', fn as (m: Member) => void)
    this._undo = [
      cluster.beforeLeave(() => this._handoff.handOffAll()),
      system._mount(ENTITY_PREFIX, {
        value: (path, msg, sender) => this._atPath(path, sender, null, true, msg, '', null),
        bytes: (path, manifest, body, sender, from) => this._atPath(path, sender, from, false, undefined, manifest, body)
      })
    ]
    cluster.addMetrics(() => shardingFamilies(this.stats(), cluster.self.toString()))
    this._timer = setInterval(() => this._ontick(), tickMs)
    queueMicrotask(() => this._ontick())
  }

  /**
   * Hosts entities of `typeName` on this node (if it has the type's role): `factory(entityId)`
   * makes the behavior of each entity when its first message comes.
   */
  register<M = unknown>(typeName: string, factory: EntityFactory<M>, opts: EntityTypeOptions = {}): void {
    checkTypeName(typeName)
    if (typeof factory !== 'function') throw ClusterError.BAD_OPTIONS('an entity factory is a function (entityId) => behavior')
    if (this._hosting.regions.has(typeName)) throw ClusterError.NAME_TAKEN(`entity type ${typeName} is registered`)
    if (this._hosting.regions.size >= SHARDING_LIMITS.maxTypes) throw ClusterError.BAD_OPTIONS(`at most ${SHARDING_LIMITS.maxTypes} entity types`)
    if (this.cluster.clientOnly) throw ClusterError.BAD_OPTIONS('a client-only node hosts no entities')
    const idle = opts.idleTimeoutMs ?? SHARDING_DEFAULTS.idleTimeoutMs
    if (!Number.isFinite(idle) || idle < 0) throw ClusterError.BAD_OPTIONS('idleTimeoutMs is 0 or more')
    this._hosting.add(typeName, factory as EntityFactory, opts.role ?? null, idle, opts.spawn ?? {})
    this._report()
  }

  /**
   * A ref to an entity, wherever it lives now: tell and ask reach it from any node. Its path is
   * `/sharding/<type>/<id>` on this node, so a copy sent inside a message routes through here.
   */
  entity<M = unknown>(typeName: string, entityId: string): ActorRef<M> {
    const key = typeName + '\0' + entityId
    let ref = this._refs.get(key)
    if (ref === undefined) {
      checkTypeName(typeName)
      if (!validEntityId(entityId)) throw ClusterError.BAD_OPTIONS(`an entity id is a string of 1 to ${SHARDING_LIMITS.maxEntityId} bytes`)
      const owner = new EntityRefOwner(this._entityRouter, typeName, entityId, shardOf(entityId, this.numberOfShards))
      ref = new ActorRef(owner, null, owner.path)
      if (this._refs.size >= REF_CACHE_MAX) this._refs.clear()
      this._refs.set(key, ref)
    }
    return ref as ActorRef<M>
  }

  /** The shard an entity id belongs to. */
  shardOf(entityId: string): number {
    return shardOf(entityId, this.numberOfShards)
  }

  /** The node that owns a shard of a type in this node's allocation (null while it has none). */
  ownerOf(typeName: string, shard: number): NodeAddress | null {
    return this._table.owner(typeName, shard)
  }

  /** Shards, entities, buffered and dropped messages and handoffs, as this node sees them. */
  stats(): ShardingStats {
    const { perShard, total } = this._hosting.counts()
    return {
      ...this._counters,
      droppedByReason: { ...this._counters.droppedByReason },
      numberOfShards: this.numberOfShards,
      allocationVersion: this._table.version,
      shardsPerNode: this._table.shardsPerNode(),
      entitiesPerShard: perShard,
      entities: total,
      buffered: this._router.held,
      handoffsCoordinated: this._coordinator.handoffsCompleted
    }
  }

  /** Stops sharding here: entities stop, what is buffered is dropped (counted), timers end. */
  close(): void {
    if (this._stopped) return
    this._stopped = true
    this._router.open = false
    if (this._timer !== null) clearInterval(this._timer)
    this._timer = null
    this._handoff.close()
    this._hosting.close()
    this._router.dropAll('shutdown')
    this._coordinator.deactivate()
    this._channel.close()
    for (const undo of this._undo) undo()
    for (const [event, fn] of this._listeners) this.cluster.off(event as 'member-up', fn as (m: Member) => void)
  }

  // A message to an entity path on this node, from a local ref (from null) or a peer.
  private _atPath(path: string, sender: ActorRef | null, from: NodeAddress | null, hasValue: boolean, value: unknown, manifest: string, body: Uint8Array | null): boolean {
    const hops = from === null ? 0 : 1
    // The common case first: a running entity of a shard this node owns.
    const live = this._router.direct(path)
    const e = live === undefined ? this._parsePath(path) : null
    if (live === undefined && e === null) return false
    try {
      if (live !== undefined) this._hosting.deliverTo(live, sender, hasValue, value, manifest, body, hops)
      else this._router.route({ type: e!.type, entityId: e!.id, shard: e!.shard, hops, sender, hasValue, value, manifest, body, storedId: 0, since: 0, via: from === null ? null : from.key })
    } catch (err) {
      // Only a local tell that cannot be serialized throws: the teller hears of it.
      if (hops === 0) throw err
      this._log.warn(`a message from a peer to ${path} failed`, err)
    }
    return true
  }

  /** The type, id and shard an entity path names (null for none), remembered. */
  private _parsePath(path: string): { type: string; id: string; shard: number } | null {
    let e = this._paths.get(path)
    if (e === undefined) {
      const parsed = parseEntityPath(path)
      if (parsed === null) return null
      e = { type: parsed.type, id: parsed.id, shard: shardOf(parsed.id, this.numberOfShards) }
      if (this._paths.size >= REF_CACHE_MAX) this._paths.clear()
      this._paths.set(path, e)
    }
    return e
  }

  private _onallocation(from: NodeAddress, a: ShardAllocation): void {
    if (a.numberOfShards !== this.numberOfShards) {
      this._refuse(`${from.toString()} allocates ${a.numberOfShards} shards, this node has ${this.numberOfShards}`)
      return
    }
    const hosting = this._hosting
    const change = this._table.apply(a, hosting.regions.keys(), (type, shard) => hosting.hosts(type, shard))
    if (change === null) return
    if (this.listenerCount('shard-moved') > 0) for (const moved of change.moved) this.emit('shard-moved', moved)
    const handed = this._handoff.moved(change.moved)
    for (const [type, shards] of change.lost) this._handoff.letGo(type, shards)
    for (const [type, s] of change.gained) this._handoff.takeOver(type, s)
    this._router.flush()
    this._handoff.handOver(handed)
  }

  private _refuse(reason: string): void {
    if (this._refused !== null) return
    const err = ClusterError.SHARD_COUNT_MISMATCH(reason)
    this._refused = err
    this._router.open = false
    this._log.error(err.message)
    this._hosting.stopAll()
    this._router.dropAll('refused')
    if (this.listenerCount('refused') > 0) this.emit('refused', err)
  }

  private _ontick(): void {
    if (this._stopped) return
    if (this.system.terminated || this.cluster.stopped) {
      this.close()
      return
    }
    const leader = this.cluster.leader
    const leading = leader !== null && leader.equals(this.cluster.self) && !this.cluster.clientOnly
    if (leading && !this._coordinator.active) this._coordinator.activate(this._table.version, this._table.asStrings())
    else if (!leading && this._coordinator.active) this._coordinator.deactivate()
    this._report()
    this._coordinator.tick()
    this._router.flush()
    const at = now()
    this._router.expire(at)
    this._router.releaseHandovers(null, at)
  }

  private _report(): void {
    const leader = this.cluster.leader
    if (leader === null || this._stopped) return
    const roles = this.cluster.member(this.cluster.self)?.roles ?? []
    const report: ShardingReport = {
      tag: SHARDING_TAG.REPORT,
      numberOfShards: this.numberOfShards,
      version: this._table.version,
      leaving: this._handoff.leaving,
      types: [...this._hosting.regions.values()].map((r) => ({
        name: r.name,
        host: this._refused === null && (r.role === null || roles.includes(r.role)),
        shards: [...r.shards.keys()]
      }))
    }
    if (leader.equals(this.cluster.self)) this._coordinator.onreport(this.cluster.self, report)
    else this._send(leader, report)
  }

  private _onaway(m: Member): void {
    if (m.address.equals(this.cluster.self)) {
      // The cluster put this node out: its entities must not live on beside their next owner's.
      if (m.status === 'down' || m.status === 'removed') this._hosting.stopAll()
      return
    }
    this._table.setAway(m.address)
    this._router.releaseHandovers(m.address, now())
  }

  private _onback(m: Member): void {
    if (this._table.setBack(m.address)) this._router.flush()
  }

  private _send(to: NodeAddress, m: ShardingMessage): void {
    try {
      this._channel.send(to, encodeShardingMessage(m))
    } catch (err) {
      this._log.debug(`could not send a sharding message to ${to.toString()}: ${(err as Error).message}`)
    }
  }

  private _onmessage(from: NodeAddress, body: Uint8Array): void {
    if (this._stopped) return
    let m: ShardingMessage
    let sender: ActorRef | null = null
    try {
      m = decodeShardingMessage(body)
      if (m.tag === SHARDING_TAG.ENVELOPE) {
        if (!TYPE_NAME.test(m.type)) throw ClusterError.BAD_MESSAGE(`an entity type name ${JSON.stringify(m.type.slice(0, 64))}`)
        if (m.entityId.length === 0) throw ClusterError.BAD_MESSAGE('an empty entity id')
        if (m.sender !== null) sender = this.system.ref(m.sender)
      } else if (m.tag === SHARDING_TAG.ALLOCATION) {
        for (const n of m.nodes) NodeAddress.parse(n)
      }
    } catch (err) {
      this._counters.badMessages++
      this._log.warn(`closing the connection to ${from.toString()}: ${(err as Error).message}`)
      this.cluster.transport.disconnect(from)
      return
    }
    switch (m.tag) {
      case SHARDING_TAG.ENVELOPE: {
        const shard = shardOf(m.entityId, this.numberOfShards)
        this._router.route({ type: m.type, entityId: m.entityId, shard, hops: m.hops + 1, sender, hasValue: false, value: undefined, manifest: m.manifest, body: m.body, storedId: 0, since: 0, via: from.key })
        return
      }
      case SHARDING_TAG.REPORT:
        this._coordinator.onreport(from, m)
        return
      case SHARDING_TAG.ALLOCATION:
        if (this._isMember(from)) this._onallocation(from, m)
        return
      case SHARDING_TAG.SHARD_STOPPED:
        this._coordinator.onshardstopped(from, m.type, m.shards)
        return
      case SHARDING_TAG.HANDED_OVER:
        this._router.handedOver(m.type, m.shards, from)
        return
      case SHARDING_TAG.REFUSED:
        if (this._isMember(from)) this._refuse(`${from.toString()} says: ${m.reason}`)
    }
  }

  /** Only members allocate or refuse: a client-only node or a stranger cannot. */
  private _isMember(address: NodeAddress): boolean {
    const m = this.cluster.member(address)
    return m !== null && (m.status === 'up' || m.status === 'leaving' || m.status === 'joining')
  }
}
