// Cluster sharding: entities, each known by a type name and an id, live on the runner nodes that
// registered their type. An entity's shard is a hash of its id; the leader allocates shards to
// runners (coordinator.ts), and every node routes a message for an entity to the owner of its
// shard, buffering it (bounded, counted when full) while the shard has no owner or its owner is
// unreachable. An entity starts on its first message and stops when idle (passivation) or when
// its shard moves. Messages ride the `sharding` channel (messages.ts).

import EventEmitter from 'bare-events'
import b4a from 'b4a'
import { ClusterError } from '../errors.ts'
import { scopedLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import type { Channel } from '../cluster/channel.ts'
import type { Cluster } from '../cluster/cluster.ts'
import type { Member } from '../cluster/membership.ts'
import { ActorRef, type AskOptions, type RefOwner } from '../actors/actor-ref.ts'
import type { ActorSystem } from '../actors/actor-system.ts'
import type { CallSite } from '../actors/ask-error.ts'
import type { Behavior, SpawnOptions } from '../actors/behavior.ts'
import { copyBytes } from '../wire/primitives.ts'
import { Coordinator } from './coordinator.ts'
import { EntityDelivery, STOP_ENTITY, entityBehavior } from './entity-behavior.ts'
import { MemoryMessageStorage, type MessageStorage, type StoredMessage } from './message-storage.ts'
import {
  SHARDING_CHANNEL,
  SHARDING_LIMITS,
  SHARDING_TAG,
  decodeShardingMessage,
  encodeEntityEnvelope,
  encodeEnvelopeHead,
  encodeShardingMessage,
  type EntityEnvelope,
  type ShardAllocation,
  type ShardingMessage,
  type ShardingReport
} from './messages.ts'
import { shardOf } from './shard-id.ts'

/** What sharding takes for the whole node; every field is optional. */
export interface ShardingOptions {
  /** Shards per entity type; every node of the cluster must say the same. Default 100. */
  numberOfShards?: number
  /** How often nodes report to the leader and the leader rebalances. Default 500 ms. */
  tickMs?: number
  /** Handoffs the leader has in progress at most (each round starts what this leaves). Default 10. */
  maxMovesPerRound?: number
  /** Messages this node holds at most for shards with no owner (or an unreachable one). Default 10,000. */
  bufferSize?: number
  /** Where messages wait until their entity has handled them. Default: a MemoryMessageStorage; null for none. */
  storage?: MessageStorage | null
}

export const SHARDING_DEFAULTS = {
  numberOfShards: 100,
  tickMs: 500,
  maxMovesPerRound: 10,
  bufferSize: 10_000,
  idleTimeoutMs: 120_000
} as const

/** What registering one entity type takes. */
export interface EntityTypeOptions {
  /** Only members with this role host the type. Default: every member that registers it. */
  role?: string
  /** An entity with no message for this long is stopped (0: never). Default 120,000 ms. */
  idleTimeoutMs?: number
  /** Mailbox and supervision of each entity. */
  spawn?: SpawnOptions
}

export type EntityFactory<M = unknown> = (entityId: string) => Behavior<M>

export type ShardingDropReason =
  // The buffer for shards without a reachable owner is full.
  | 'buffer-full'
  // This node's number of shards differs from the cluster's.
  | 'refused'
  // Passed on too many times between nodes whose allocations disagree.
  | 'too-many-hops'
  // This node's sharding stopped with the message still here.
  | 'shutdown'
  // The allocation names this node for a type it does not host, or the type's factory threw.
  | 'not-hosted'
  // The transport would not take it.
  | 'undeliverable'
  // A body in a format nobody registered here.
  | 'unknown-manifest'
  // The message storage failed to save it.
  | 'storage-failed'

export interface ShardMovedEvent {
  type: string
  shard: number
  from: NodeAddress | null
  to: NodeAddress
  version: number
}

export interface ShardingStats {
  numberOfShards: number
  allocationVersion: number
  /** Per type, shards per owner node (by address), from the allocation this node has. */
  shardsPerNode: Record<string, Record<string, number>>
  /** Per type, live entities per shard on this node. */
  entitiesPerShard: Record<string, Record<string, number>>
  entities: number
  entitiesStarted: number
  passivations: number
  buffered: number
  dropped: number
  droppedByReason: Partial<Record<ShardingDropReason, number>>
  /** Shards this node handed off (stopped its entities and let go). */
  handoffs: number
  /** Handoffs completed while this node was the leader. */
  handoffsCoordinated: number
  /** Messages this node received and passed on to the owner it knows. */
  forwarded: number
  /** Messages a new owner delivered again from the storage. */
  redelivered: number
  /** Sharding messages from peers that did not decode; each closed the peer's connection. */
  badMessages: number
}

/** Events sharding emits. */
export interface ShardingEventMap {
  /** A shard changed owner (see ShardMovedEvent). */
  'shard-moved': [event: ShardMovedEvent]
  /** This node was refused for disagreeing with the cluster (SHARD_COUNT_MISMATCH). */
  refused: [err: ClusterError]
}

// A message on its way to an entity.
interface Pending {
  type: string
  entityId: string
  shard: number
  hops: number
  sender: ActorRef | null
  /** A local tell's value (body null until serialized) ... */
  hasValue: boolean
  value: unknown
  /** ... or the bytes from a peer or the storage. */
  manifest: string
  body: Uint8Array | null
  storedId: number
}

interface Region {
  name: string
  factory: EntityFactory
  role: string | null
  idleTimeoutMs: number
  spawn: SpawnOptions
  /** Shards with entities here: shard -> entity id -> entity. */
  shards: Map<number, Map<string, Entity>>
  /** Shards whose entities are stopping because the shard is moving away. */
  stopping: Set<number>
  sweep: TimerHandle | null
}

interface Entity {
  id: string
  shard: number
  region: Region
  path: string
  stopping: boolean
  stopped: boolean
  inflight: number
  lastActive: number
  /** Messages that came while it was stopping: delivered to its next incarnation or passed on. */
  waiting: Pending[]
  /** Messages behind one whose save has not finished. */
  queue: Pending[]
  saving: boolean
}

const TYPE_NAME = /^[A-Za-z0-9_\-.~:+=@]{1,64}$/
const MAX_HOPS = 4
const REF_CACHE_MAX = 10_000

export class Sharding extends EventEmitter<ShardingEventMap> {
  readonly system: ActorSystem
  readonly cluster: Cluster
  readonly numberOfShards: number
  readonly storage: MessageStorage | null
  private _log: Logger
  private _tickMs: number
  private _bufferSize: number
  private _channel: Channel
  private _coordinator: Coordinator
  private _regions: Map<string, Region>
  private _version: number
  private _owners: Map<string, (NodeAddress | null)[]>
  private _lastOwners: Map<string, (NodeAddress | null)[]>
  private _buffer: Map<string, Pending[]>
  private _buffered: number
  private _away: Set<string>
  private _refs: Map<string, ActorRef>
  private _refused: ClusterError | null
  private _leaving: boolean
  private _stopped: boolean
  private _timer: TimerHandle | null
  private _stats: Omit<ShardingStats, 'numberOfShards' | 'allocationVersion' | 'shardsPerNode' | 'entitiesPerShard' | 'entities' | 'buffered' | 'handoffsCoordinated'>
  private _listeners: [string, (...args: never[]) => void][]
  private _removeLeaveTask: () => void

  /** Starts sharding on a node whose system has joined `cluster`. */
  static start(system: ActorSystem, cluster: Cluster, opts: ShardingOptions = {}): Sharding {
    return new Sharding(system, cluster, opts)
  }

  constructor(system: ActorSystem, cluster: Cluster, opts: ShardingOptions = {}) {
    super()
    const n = opts.numberOfShards ?? SHARDING_DEFAULTS.numberOfShards
    if (!Number.isInteger(n) || n < 1 || n > SHARDING_LIMITS.maxShards) throw ClusterError.BAD_OPTIONS(`numberOfShards is 1 to ${SHARDING_LIMITS.maxShards}`)
    if (system.cluster !== cluster) throw ClusterError.BAD_OPTIONS('the system has not joined this cluster')
    this.system = system
    this.cluster = cluster
    this.numberOfShards = n
    this.storage = opts.storage === undefined ? new MemoryMessageStorage() : opts.storage
    this._log = scopedLogger(system.log, 'sharding')
    this._tickMs = opts.tickMs ?? SHARDING_DEFAULTS.tickMs
    this._bufferSize = opts.bufferSize ?? SHARDING_DEFAULTS.bufferSize
    this._channel = cluster.channel(SHARDING_CHANNEL, (from, body) => this._onmessage(from, body))
    this._coordinator = new Coordinator(
      {
        self: cluster.self,
        numberOfShards: n,
        members: () => cluster.members(),
        send: (to, m) => this._send(to, m),
        applyLocal: (a) => this._onallocation(cluster.self, a)
      },
      { maxMovesPerRound: opts.maxMovesPerRound ?? SHARDING_DEFAULTS.maxMovesPerRound, settleMs: this._tickMs * 2, reportTtlMs: this._tickMs * 10 },
      this._log
    )
    this._regions = new Map()
    this._version = 0
    this._owners = new Map()
    this._lastOwners = new Map()
    this._buffer = new Map()
    this._buffered = 0
    this._away = new Set()
    this._refs = new Map()
    this._refused = null
    this._leaving = false
    this._stopped = false
    this._stats = {
      entitiesStarted: 0,
      passivations: 0,
      dropped: 0,
      droppedByReason: {},
      handoffs: 0,
      forwarded: 0,
      redelivered: 0,
      badMessages: 0
    }
    const away = (m: Member) => this._onaway(m)
    const back = (m: Member) => this._onback(m)
    const leader = () => this._ontick()
    this._listeners = [
      ['member-unreachable', away],
      ['member-down', away],
      ['member-removed', away],
      ['member-reachable', back],
      ['member-up', back],
      ['leader-changed', leader]
    ]
    for (const [event, fn] of this._listeners) cluster.on(event as 'member-up', fn as (m: Member) => void)
    this._removeLeaveTask = cluster.beforeLeave(() => this._handOffAll())
    this._timer = setInterval(() => this._ontick(), this._tickMs)
    queueMicrotask(() => this._ontick())
  }

  /** Hosts entities of `typeName` on this node (if it has the type's role). */
  register<M = unknown>(typeName: string, factory: EntityFactory<M>, opts: EntityTypeOptions = {}): void {
    checkTypeName(typeName)
    if (typeof factory !== 'function') throw ClusterError.BAD_OPTIONS('an entity factory is a function (entityId) => behavior')
    if (this._regions.has(typeName)) throw ClusterError.NAME_TAKEN(`entity type ${typeName} is registered`)
    if (this._regions.size >= SHARDING_LIMITS.maxTypes) throw ClusterError.BAD_OPTIONS(`at most ${SHARDING_LIMITS.maxTypes} entity types`)
    if (this.cluster.clientOnly) throw ClusterError.BAD_OPTIONS('a client-only node hosts no entities')
    const idle = opts.idleTimeoutMs ?? SHARDING_DEFAULTS.idleTimeoutMs
    if (!Number.isFinite(idle) || idle < 0) throw ClusterError.BAD_OPTIONS('idleTimeoutMs is 0 or more')
    const region: Region = {
      name: typeName,
      factory: factory as EntityFactory,
      role: opts.role ?? null,
      idleTimeoutMs: idle,
      spawn: opts.spawn ?? {},
      shards: new Map(),
      stopping: new Set(),
      sweep: null
    }
    if (idle > 0) region.sweep = setInterval(() => this._sweep(region), Math.max(5, Math.floor(idle / 4)))
    this._regions.set(typeName, region)
    this._report()
  }

  /** A ref to an entity, wherever it lives now: tell and ask reach it from any node. */
  entity<M = unknown>(typeName: string, entityId: string): ActorRef<M> {
    const key = typeName + '\0' + entityId
    let ref = this._refs.get(key)
    if (ref === undefined) {
      checkTypeName(typeName)
      if (typeof entityId !== 'string' || entityId.length === 0 || b4a.byteLength(entityId, 'utf8') > SHARDING_LIMITS.maxEntityId) {
        throw ClusterError.BAD_OPTIONS(`an entity id is a string of 1 to ${SHARDING_LIMITS.maxEntityId} characters`)
      }
      const owner = new EntityRefOwner(this, typeName, entityId, shardOf(entityId, this.numberOfShards))
      ref = new ActorRef(owner, null, `/sharding/${typeName}/${entityId}`)
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
    return this._owners.get(typeName)?.[shard] ?? null
  }

  stats(): ShardingStats {
    const shardsPerNode: Record<string, Record<string, number>> = {}
    for (const [type, owners] of this._owners) {
      const counts: Record<string, number> = {}
      for (const o of owners) if (o !== null) counts[o.toString()] = (counts[o.toString()] ?? 0) + 1
      shardsPerNode[type] = counts
    }
    const entitiesPerShard: Record<string, Record<string, number>> = {}
    let entities = 0
    for (const r of this._regions.values()) {
      const counts: Record<string, number> = {}
      for (const [s, m] of r.shards) {
        counts[String(s)] = m.size
        entities += m.size
      }
      entitiesPerShard[r.name] = counts
    }
    return {
      ...this._stats,
      droppedByReason: { ...this._stats.droppedByReason },
      numberOfShards: this.numberOfShards,
      allocationVersion: this._version,
      shardsPerNode,
      entitiesPerShard,
      entities,
      buffered: this._buffered,
      handoffsCoordinated: this._coordinator.handoffsCompleted
    }
  }

  /** Stops sharding here: entities stop, what is buffered is dropped (counted), timers end. */
  close(): void {
    if (this._stopped) return
    this._stopped = true
    if (this._timer !== null) clearInterval(this._timer)
    this._timer = null
    for (const r of this._regions.values()) {
      if (r.sweep !== null) clearInterval(r.sweep)
      r.sweep = null
      for (const m of r.shards.values()) for (const e of m.values()) this._stopEntity(e)
    }
    for (const list of this._buffer.values()) for (const p of list) this._drop(p, 'shutdown')
    this._buffer.clear()
    this._buffered = 0
    this._coordinator.deactivate()
    this._channel.close()
    this._removeLeaveTask()
    for (const [event, fn] of this._listeners) this.cluster.off(event as 'member-up', fn as (m: Member) => void)
  }

  // --- entity refs ---------------------------------------------------------------------------

  /** @internal */
  _tellEntity(type: string, entityId: string, shard: number, head: Uint8Array, msg: unknown, sender: ActorRef | null): void {
    // The common case first: the shard's owner is another node, reachable.
    const owner = this._owners.get(type)?.[shard] ?? null
    if (owner !== null && owner !== this.cluster.self && this._refused === null && !this._stopped && !this._away.has(owner.key) && !this.system.terminated) {
      const { manifest, body } = this.system.serialization.serialize(msg)
      const bytes = encodeEntityEnvelope(head, 0, sender === null ? null : sender.path, manifest, body)
      try {
        this._channel.send(owner, bytes)
        return
      } catch (err) {
        if (err instanceof ClusterError && err.code === 'FRAME_TOO_LARGE') throw err
      }
    }
    this._route({ type, entityId, shard, hops: 0, sender, hasValue: true, value: msg, manifest: '', body: null, storedId: 0 }, true)
  }

  // --- routing -------------------------------------------------------------------------------

  private _route(p: Pending, local = false): void {
    if (this._stopped || this.system.terminated) return this._drop(p, 'shutdown')
    if (this._refused !== null) return this._drop(p, 'refused')
    const owner = this._owners.get(p.type)?.[p.shard] ?? null
    if (owner === null || this._away.has(owner.key)) return this._hold(p)
    if (owner === this.cluster.self) return this._deliverLocal(p)
    if (p.hops >= MAX_HOPS) return this._drop(p, 'too-many-hops')
    if (p.body === null) this._serialize(p)
    const envelope: EntityEnvelope = {
      tag: SHARDING_TAG.ENVELOPE,
      type: p.type,
      entityId: p.entityId,
      hops: p.hops,
      sender: p.sender === null ? null : p.sender.path,
      manifest: p.manifest,
      body: p.body!
    }
    try {
      this._channel.send(owner, encodeShardingMessage(envelope))
    } catch (err) {
      if (local && err instanceof ClusterError && err.code === 'FRAME_TOO_LARGE') throw err
      this._drop(p, 'undeliverable')
      return
    }
    if (!local) this._stats.forwarded++
  }

  /** Until the shard has a reachable owner. */
  private _hold(p: Pending): void {
    if (this._buffered >= this._bufferSize) return this._drop(p, 'buffer-full')
    if (p.body !== null) p.body = copyBytes(p.body)
    const key = p.type + '\0' + p.shard
    let list = this._buffer.get(key)
    if (list === undefined) this._buffer.set(key, (list = []))
    list.push(p)
    this._buffered++
  }

  /** Routes again what waits for shards that now have a reachable owner. */
  private _flush(): void {
    if (this._buffered === 0) return
    for (const [key, list] of [...this._buffer]) {
      const at = key.indexOf('\0')
      const owner = this._owners.get(key.slice(0, at))?.[Number(key.slice(at + 1))] ?? null
      if (owner === null || this._away.has(owner.key)) continue
      this._buffer.delete(key)
      this._buffered -= list.length
      for (const p of list) this._route(p)
    }
  }

  private _drop(p: Pending, reason: ShardingDropReason): void {
    this._stats.dropped++
    this._stats.droppedByReason[reason] = (this._stats.droppedByReason[reason] ?? 0) + 1
    this._log.debug(`dropped a message to ${p.type}/${p.entityId} (${reason})`)
    if (p.sender !== null && p.sender.localPath.startsWith('/temp/')) {
      const text = `a message to entity ${p.type}/${p.entityId} was dropped (${reason})`
      const err =
        reason === 'buffer-full'
          ? ClusterError.QUEUE_FULL(text)
          : reason === 'refused'
            ? (this._refused ?? ClusterError.SHARD_COUNT_MISMATCH(text))
            : reason === 'shutdown'
              ? ClusterError.SYSTEM_STOPPED(text)
              : ClusterError.UNREACHABLE(text)
      try {
        this.system.failAsk(p.sender, err)
      } catch {}
    }
  }

  private _serialize(p: Pending): void {
    const { manifest, body } = this.system.serialization.serialize(p.value)
    p.manifest = manifest
    p.body = body
  }

  // --- entities ------------------------------------------------------------------------------

  private _deliverLocal(p: Pending): void {
    const region = this._regions.get(p.type)
    if (region === undefined) return this._drop(p, 'not-hosted')
    let entities = region.shards.get(p.shard)
    if (entities === undefined) region.shards.set(p.shard, (entities = new Map()))
    const e = entities.get(p.entityId) ?? this._startEntity(region, entities, p.shard, p.entityId)
    if (e === null) return this._drop(p, 'not-hosted')
    if (e.stopping) {
      if (this._buffered >= this._bufferSize) return this._drop(p, 'buffer-full')
      e.waiting.push(p)
      this._buffered++
      return
    }
    this._save(e, p)
  }

  /** Saves a message before the entity gets it (unless it came from the storage). */
  private _save(e: Entity, p: Pending): void {
    if (this.storage === null || p.storedId !== 0) return this._hand(e, p)
    if (e.saving) {
      e.queue.push(p)
      return
    }
    if (p.body === null) {
      try {
        this._serialize(p)
      } catch (err) {
        // A local tell that cannot be serialized: say so, as a remote tell would.
        if (p.hops === 0) throw err
        return this._drop(p, 'storage-failed')
      }
    }
    let result: number | Promise<number>
    try {
      result = this.storage.save({ type: p.type, entityId: p.entityId, shard: p.shard, sender: p.sender?.path ?? null, manifest: p.manifest, body: p.body! })
    } catch (err) {
      this._log.warn('the message storage failed to save', err)
      return this._drop(p, 'storage-failed')
    }
    if (typeof result === 'number') {
      p.storedId = result
      return this._hand(e, p)
    }
    e.saving = true
    result.then(
      (id) => {
        p.storedId = id
        this._saved(e, p)
      },
      (err: unknown) => {
        this._log.warn('the message storage failed to save', err)
        this._drop(p, 'storage-failed')
        this._saved(e, null)
      }
    )
  }

  private _saved(e: Entity, p: Pending | null): void {
    e.saving = false
    if (p !== null) {
      if (e.stopped) this._route(p)
      else this._hand(e, p)
    }
    while (e.queue.length > 0 && !e.saving) {
      const next = e.queue.shift()!
      if (e.stopped || e.stopping) this._route(next)
      else this._save(e, next)
    }
  }

  private _hand(e: Entity, p: Pending): void {
    let value = p.value
    if (!p.hasValue) {
      try {
        value = this.system.serialization.deserialize(p.manifest, p.body!)
      } catch (err) {
        if (p.storedId !== 0) this._markDone(p.storedId)
        this._log.warn(`a message to ${p.type}/${p.entityId} did not decode`, err)
        return this._drop(p, 'unknown-manifest')
      }
    }
    e.inflight++
    e.lastActive = Date.now()
    this.system.deliver(e.path, new EntityDelivery(p.storedId, value), p.sender)
  }

  private _startEntity(region: Region, entities: Map<string, Entity>, shard: number, id: string): Entity | null {
    const e: Entity = { id, shard, region, path: '', stopping: false, stopped: false, inflight: 0, lastActive: Date.now(), waiting: [], queue: [], saving: false }
    let behavior: Behavior<unknown>
    try {
      behavior = region.factory(id)
    } catch (err) {
      this._log.error(`the factory of ${region.name} threw for ${id}`, err)
      return null
    }
    entities.set(id, e)
    const wrapped = entityBehavior(behavior, {
      done: (d) => this._ondone(e, d),
      stopped: () => this._onentitystopped(e)
    })
    try {
      e.path = this.system.spawn(null, wrapped, region.spawn).localPath
    } catch (err) {
      if (entities.get(id) === e) entities.delete(id)
      this._log.error(`could not start entity ${region.name}/${id}`, err)
      return null
    }
    this._stats.entitiesStarted++
    return e.stopped ? null : e
  }

  private _ondone(e: Entity, d: EntityDelivery): void {
    e.inflight--
    e.lastActive = Date.now()
    if (d.storedId !== 0) this._markDone(d.storedId)
  }

  private _markDone(id: number): void {
    try {
      const r = this.storage?.markDone(id)
      if (r !== undefined) r.then(undefined, (err: unknown) => this._log.warn('the message storage failed to mark a message done', err))
    } catch (err) {
      this._log.warn('the message storage failed to mark a message done', err)
    }
  }

  /** Stops an entity after what is in its mailbox. */
  private _stopEntity(e: Entity): void {
    if (e.stopping || e.stopped) return
    e.stopping = true
    const cell = this.system.cell(e.path)
    if (cell === null) this._onentitystopped(e)
    else cell.enqueue(STOP_ENTITY, null, true)
  }

  private _onentitystopped(e: Entity): void {
    if (e.stopped) return
    e.stopped = true
    const region = e.region
    const entities = region.shards.get(e.shard)
    if (entities !== undefined && entities.get(e.id) === e) entities.delete(e.id)
    if (entities !== undefined && entities.size === 0) {
      region.shards.delete(e.shard)
      if (region.stopping.delete(e.shard)) this._shardStopped(region, e.shard)
    }
    const rest = [...e.waiting, ...e.queue]
    this._buffered -= e.waiting.length
    e.waiting = []
    e.queue = []
    for (const p of rest) this._route(p)
  }

  private _sweep(region: Region): void {
    const t = Date.now()
    for (const entities of region.shards.values()) {
      for (const e of entities.values()) {
        if (e.stopping || e.inflight > 0 || e.saving || t - e.lastActive < region.idleTimeoutMs) continue
        this._stats.passivations++
        this._stopEntity(e)
      }
    }
  }

  // --- allocation and handoff ----------------------------------------------------------------

  private _onallocation(from: NodeAddress, a: ShardAllocation): void {
    if (a.numberOfShards !== this.numberOfShards) {
      this._refuse(`${from.toString()} allocates ${a.numberOfShards} shards, this node has ${this.numberOfShards}`)
      return
    }
    if (a.version <= this._version) return
    const nodes = a.nodes.map((s) => (s === this.cluster.self.toString() ? this.cluster.self : NodeAddress.parse(s)))
    const next = new Map<string, (NodeAddress | null)[]>()
    for (const t of a.types) next.set(t.name, t.owners.map((i) => (i === 0 ? null : nodes[i - 1]!)))
    const types = new Set([...this._owners.keys(), ...next.keys(), ...this._regions.keys()])
    const lost = new Map<string, number[]>()
    const gained: [string, number][] = []
    for (const type of types) {
      const before = this._owners.get(type)
      const after = next.get(type) ?? new Array<NodeAddress | null>(this.numberOfShards).fill(null)
      next.set(type, after)
      let last = this._lastOwners.get(type)
      if (last === undefined) this._lastOwners.set(type, (last = new Array<NodeAddress | null>(this.numberOfShards).fill(null)))
      const region = this._regions.get(type)
      for (let s = 0; s < this.numberOfShards; s++) {
        const was = before?.[s] ?? null
        const now = after[s]!
        const mineBefore = was === this.cluster.self
        const mineNow = now === this.cluster.self
        if ((mineBefore || region?.shards.has(s) === true) && !mineNow) {
          let list = lost.get(type)
          if (list === undefined) lost.set(type, (list = []))
          list.push(s)
        }
        if (mineNow && !mineBefore) gained.push([type, s])
        if (now !== null && !sameNode(now, last[s]!)) {
          const moved: ShardMovedEvent = { type, shard: s, from: last[s]!, to: now, version: a.version }
          last[s] = now
          if (this.listenerCount('shard-moved') > 0) this.emit('shard-moved', moved)
        }
      }
    }
    this._version = a.version
    this._owners = next
    for (const [type, shards] of lost) this._letGo(type, shards)
    for (const [type, s] of gained) this._takeOver(type, s)
    this._flush()
  }

  /** The allocation moved these shards away: stop their entities, then tell the leader. */
  private _letGo(type: string, shards: number[]): void {
    const region = this._regions.get(type)
    const done: number[] = []
    for (const s of shards) {
      const entities = region?.shards.get(s)
      if (region === undefined || entities === undefined || entities.size === 0) {
        region?.shards.delete(s)
        done.push(s)
        continue
      }
      region.stopping.add(s)
      for (const e of [...entities.values()]) this._stopEntity(e)
    }
    if (done.length > 0) this._sendStopped(type, done)
  }

  private _shardStopped(region: Region, shard: number): void {
    this._stats.handoffs++
    this._sendStopped(region.name, [shard])
  }

  private _sendStopped(type: string, shards: number[]): void {
    const leader = this.cluster.leader
    if (leader === null) return
    if (leader.equals(this.cluster.self)) this._coordinator.onshardstopped(this.cluster.self, type, shards)
    else this._send(leader, { tag: SHARDING_TAG.SHARD_STOPPED, type, shards })
  }

  /** This node now owns the shard: what the storage holds undone for it is delivered again. */
  private _takeOver(type: string, shard: number): void {
    if (this.storage === null) return
    let result: StoredMessage[] | Promise<StoredMessage[]>
    try {
      result = this.storage.undelivered(type, shard)
    } catch (err) {
      this._log.warn('the message storage failed to list undelivered messages', err)
      return
    }
    const redeliver = (list: StoredMessage[]) => {
      for (const m of list) {
        let sender: ActorRef | null = null
        try {
          if (m.sender !== null) sender = this.system.ref(m.sender)
        } catch {}
        this._stats.redelivered++
        this._route({ type, entityId: m.entityId, shard, hops: 0, sender, hasValue: false, value: undefined, manifest: m.manifest, body: m.body, storedId: m.id })
      }
    }
    if (Array.isArray(result)) redeliver(result)
    else result.then(redeliver, (err: unknown) => this._log.warn('the message storage failed to list undelivered messages', err))
  }

  private _refuse(reason: string): void {
    if (this._refused !== null) return
    const err = ClusterError.SHARD_COUNT_MISMATCH(reason)
    this._refused = err
    this._log.error(err.message)
    for (const r of this._regions.values()) for (const m of r.shards.values()) for (const e of m.values()) this._stopEntity(e)
    for (const list of this._buffer.values()) for (const p of list) this._drop(p, 'refused')
    this._buffer.clear()
    this._buffered = 0
    if (this.listenerCount('refused') > 0) this.emit('refused', err)
  }

  /**
   * Before this node leaves: ask the leader to move every shard away, and wait until the
   * entities have stopped and what was buffered here has gone on to the new owners.
   */
  private async _handOffAll(): Promise<void> {
    if (this._stopped || this._regions.size === 0) return
    this._leaving = true
    this._report()
    while (!this._stopped && !this.cluster.stopped) {
      let busy = this._buffered > 0
      for (const r of this._regions.values()) if (r.shards.size > 0) busy = true
      for (const owners of this._owners.values()) if (owners.includes(this.cluster.self)) busy = true
      if (!busy) break
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(20, this._tickMs)))
    }
  }

  // --- cluster and peers ---------------------------------------------------------------------

  private _ontick(): void {
    if (this._stopped) return
    if (this.system.terminated || this.cluster.stopped) {
      this.close()
      return
    }
    const leader = this.cluster.leader
    const leading = leader !== null && leader.equals(this.cluster.self) && !this.cluster.clientOnly
    if (leading && !this._coordinator.active) {
      const owners = new Map<string, (string | null)[]>()
      for (const [type, list] of this._owners) owners.set(type, list.map((o) => (o === null ? null : o.toString())))
      this._coordinator.activate(this._version, owners)
    } else if (!leading && this._coordinator.active) {
      this._coordinator.deactivate()
    }
    this._report()
    this._coordinator.tick()
    this._flush()
  }

  private _report(): void {
    const leader = this.cluster.leader
    if (leader === null || this._stopped) return
    const roles = this.cluster.member(this.cluster.self)?.roles ?? []
    const report: ShardingReport = {
      tag: SHARDING_TAG.REPORT,
      numberOfShards: this.numberOfShards,
      version: this._version,
      leaving: this._leaving,
      types: [...this._regions.values()].map((r) => ({
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
      if (m.status === 'down' || m.status === 'removed') {
        for (const r of this._regions.values()) for (const list of r.shards.values()) for (const e of list.values()) this._stopEntity(e)
      }
      return
    }
    this._away.add(m.address.key)
  }

  private _onback(m: Member): void {
    if (this._away.delete(m.address.key)) this._flush()
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
      this._stats.badMessages++
      this._log.warn(`closing the connection to ${from.toString()}: ${(err as Error).message}`)
      this.cluster.transport.disconnect(from)
      return
    }
    switch (m.tag) {
      case SHARDING_TAG.ENVELOPE:
        this._route({
          type: m.type,
          entityId: m.entityId,
          shard: shardOf(m.entityId, this.numberOfShards),
          hops: m.hops + 1,
          sender,
          hasValue: false,
          value: undefined,
          manifest: m.manifest,
          body: m.body,
          storedId: 0
        })
        return
      case SHARDING_TAG.REPORT:
        this._coordinator.onreport(from, m)
        return
      case SHARDING_TAG.ALLOCATION:
        if (this._isMember(from)) this._onallocation(from, m)
        return
      case SHARDING_TAG.SHARD_STOPPED:
        this._coordinator.onshardstopped(from, m.type, m.shards)
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

// What an entity ref calls: tell routes through sharding, ask through the system's asks.
class EntityRefOwner implements RefOwner {
  private _sharding: Sharding
  private _type: string
  private _id: string
  private _shard: number
  private _head: Uint8Array

  constructor(sharding: Sharding, type: string, id: string, shard: number) {
    this._sharding = sharding
    this._type = type
    this._id = id
    this._shard = shard
    this._head = encodeEnvelopeHead(type, id)
  }

  _tell(_ref: ActorRef, msg: unknown, sender: ActorRef | null): void {
    this._sharding._tellEntity(this._type, this._id, this._shard, this._head, msg, sender)
  }

  _ask(ref: ActorRef, msg: unknown, opts: AskOptions, site?: CallSite | null): Promise<unknown> {
    return this._sharding.system._ask(ref, msg, opts, site ?? null, true)
  }

  _addressString(): string {
    return this._sharding.system._addressString()
  }
}

function checkTypeName(name: unknown): void {
  if (typeof name !== 'string' || !TYPE_NAME.test(name)) {
    throw ClusterError.BAD_OPTIONS(`an entity type name is 1-64 of A-Z a-z 0-9 _ - . ~ : + = @, not ${JSON.stringify(name)}`)
  }
}

function sameNode(a: NodeAddress | null, b: NodeAddress | null): boolean {
  return a === null ? b === null : a.equals(b)
}
