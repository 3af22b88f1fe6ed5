// The entities this node hosts: per registered type (a region), the live entities of each shard.
// An entity starts on its first message and stops when idle (passivation) or when its shard
// moves away, after what is already in its mailbox. A message is saved in the storage before the
// entity gets it and marked done after; messages that come while an entity stops wait for it
// and then go wherever their shard is now.

import { now } from '../../backends/clock.ts'
import type { ActorCell } from '../actors/actor-cell.ts'
import type { ActorRef } from '../actors/actor-ref.ts'
import type { Behavior, SpawnOptions } from '../actors/behavior.ts'
import type { ShardingCore } from './core.ts'
import { EntityDelivery, STOP_ENTITY, entityBehavior, type EntityHooks } from './entity-behavior.ts'
import { entityPath } from './entity-ref.ts'
import { MemoryMessageStorage } from './message-storage.ts'
import type { EntityFactory } from './options.ts'
import type { Pending } from './routing.ts'

// The idle sweep runs this many times per idleTimeoutMs: an entity stops after between
// idleTimeoutMs and idleTimeoutMs + 2 sweeps without a message.
const SWEEPS_PER_IDLE = 8
const MIN_SWEEP_MS = 5

export interface Region {
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
  sweepMs: number
  /** When the sweep last ran (monotonic ms). */
  sweptAt: number
}

export class Entity implements EntityHooks {
  readonly id: string
  readonly shard: number
  readonly region: Region
  /** The path messages to it are addressed to: /sharding/<type>/<id>. */
  readonly key: string
  /** Its actor's own path and cell. */
  path: string
  cell: ActorCell | null
  stopping: boolean
  stopped: boolean
  busy: boolean
  /** Messages handled; the sweep compares it with `seen` to tell an idle entity. */
  handled: number
  seen: number
  /** When the sweep last found it active (monotonic ms). */
  activeAt: number
  /** Messages that came while it was stopping: delivered to its next incarnation or passed on. */
  waiting: Pending[]
  /** Messages behind one whose save has not finished. */
  queue: Pending[]
  saving: boolean
  private _hosting: Hosting

  constructor(hosting: Hosting, region: Region, shard: number, id: string) {
    this.id = id
    this.shard = shard
    this.region = region
    this.key = entityPath(region.name, id)
    this.path = ''
    this.cell = null
    this.stopping = false
    this.stopped = false
    this.busy = false
    this.handled = 0
    this.seen = 0
    this.activeAt = now()
    this.waiting = []
    this.queue = []
    this.saving = false
    this._hosting = hosting
  }

  done(storedId: number): void {
    this.busy = false
    this.handled++
    if (storedId !== 0) this._hosting.markDone(storedId)
  }

  onstopped(): void {
    this._hosting.entityStopped(this)
  }
}

export class Hosting {
  readonly regions: Map<string, Region>
  /** Entities running (not stopping), by the path messages to them are addressed to. */
  readonly live: Map<string, Entity>
  private _core: ShardingCore
  /** The storage when it is the in-memory one, whose fields can be kept without a record. */
  private _memory: MemoryMessageStorage | null

  constructor(core: ShardingCore) {
    this._core = core
    this.regions = new Map()
    this.live = new Map()
    this._memory = core.storage !== null && core.storage.constructor === MemoryMessageStorage ? (core.storage as MemoryMessageStorage) : null
  }

  add(name: string, factory: EntityFactory, role: string | null, idleTimeoutMs: number, spawn: SpawnOptions): void {
    const sweepMs = Math.max(MIN_SWEEP_MS, Math.floor(idleTimeoutMs / SWEEPS_PER_IDLE))
    const region: Region = { name, factory, role, idleTimeoutMs, spawn, shards: new Map(), stopping: new Set(), sweep: null, sweepMs, sweptAt: now() }
    if (idleTimeoutMs > 0) region.sweep = setInterval(() => this._sweep(region), sweepMs)
    this.regions.set(name, region)
  }

  /** Whether entities of the shard live (or are stopping) here. */
  hosts(type: string, shard: number): boolean {
    return this.regions.get(type)?.shards.has(shard) === true
  }

  /** Whether any entity lives here. */
  busy(): boolean {
    for (const r of this.regions.values()) if (r.shards.size > 0) return true
    return false
  }

  /** A message for a shard this node owns. */
  deliver(p: Pending): void {
    const router = this._core.router
    const region = this.regions.get(p.type)
    if (region === undefined) return router.drop(p, 'not-hosted')
    let entities = region.shards.get(p.shard)
    if (entities === undefined) region.shards.set(p.shard, (entities = new Map()))
    const e = entities.get(p.entityId) ?? this._start(region, entities, p.shard, p.entityId)
    if (e === null) return router.drop(p, 'not-hosted')
    if (e.stopping) {
      if (router.full) return router.drop(p, 'buffer-full')
      e.waiting.push(p)
      router.held++
      return
    }
    this._save(e, p)
  }

  /**
   * A message for a running entity with nothing of its own waiting ahead of it here (see
   * Router.direct): saved and handed over without a Pending record.
   */
  deliverTo(e: Entity, sender: ActorRef | null, hasValue: boolean, value: unknown, manifest: string, body: Uint8Array | null, hops: number): void {
    const storage = this._core.storage
    if (storage === null) return this._hand(e, 0, sender, hasValue, value, manifest, body)
    const memory = this._memory
    if (memory === null) {
      // A storage that may answer later: the general path keeps the order behind a pending save.
      const p: Pending = { type: e.region.name, entityId: e.id, shard: e.shard, hops, sender, hasValue, value, manifest, body, storedId: 0, since: 0, via: null }
      return this._save(e, p)
    }
    if (body === null) {
      // A local tell: serialized for the storage, and a value that cannot be is the teller's error.
      const s = this._core.system.serialization.serialize(value)
      manifest = s.manifest
      body = s.body
    }
    const id = memory.keep(e.region.name, e.id, e.shard, sender === null ? null : sender.path, manifest, body)
    this._hand(e, id, sender, hasValue, value, manifest, body)
  }

  /**
   * The shards moved away: their entities stop. Returns the shards with nothing to stop; each
   * other one is reported to the handoff once its last entity has stopped.
   */
  stopShards(type: string, shards: number[]): number[] {
    const region = this.regions.get(type)
    const done: number[] = []
    for (const s of shards) {
      const entities = region?.shards.get(s)
      if (region === undefined || entities === undefined || entities.size === 0) {
        region?.shards.delete(s)
        done.push(s)
        continue
      }
      region.stopping.add(s)
      for (const e of [...entities.values()]) this._stop(e)
    }
    return done
  }

  /** Stops every entity here (after what is in its mailbox). */
  stopAll(): void {
    for (const r of this.regions.values()) for (const m of r.shards.values()) for (const e of [...m.values()]) this._stop(e)
  }

  /** Per type, live entities per shard. */
  counts(): { perShard: Record<string, Record<string, number>>; total: number } {
    const perShard: Record<string, Record<string, number>> = {}
    let total = 0
    for (const r of this.regions.values()) {
      const counts: Record<string, number> = {}
      for (const [s, m] of r.shards) {
        counts[String(s)] = m.size
        total += m.size
      }
      perShard[r.name] = counts
    }
    return { perShard, total }
  }

  close(): void {
    for (const r of this.regions.values()) if (r.sweep !== null) clearInterval(r.sweep)
    this.stopAll()
  }

  markDone(id: number): void {
    const log = this._core.log
    try {
      const r = this._core.storage?.markDone(id)
      if (r !== undefined) r.then(undefined, (err: unknown) => log.warn('the message storage failed to mark a message done', err))
    } catch (err) {
      log.warn('the message storage failed to mark a message done', err)
    }
  }

  /** The entity's actor has stopped. */
  entityStopped(e: Entity): void {
    if (e.stopped) return
    e.stopped = true
    this._unlist(e)
    const region = e.region
    const entities = region.shards.get(e.shard)
    if (entities !== undefined && entities.get(e.id) === e) entities.delete(e.id)
    if (entities !== undefined && entities.size === 0) {
      region.shards.delete(e.shard)
      if (region.stopping.delete(e.shard)) this._core.handoff.shardStopped(region.name, e.shard)
    }
    const rest = [...e.waiting, ...e.queue]
    this._core.router.held -= e.waiting.length
    e.waiting = []
    e.queue = []
    for (const p of rest) this._core.router.route(p)
  }

  /** Saves a message before the entity gets it (unless it came from the storage). */
  private _save(e: Entity, p: Pending): void {
    const { storage, router } = this._core
    if (storage === null || p.storedId !== 0) return this._handPending(e, p)
    if (e.saving) {
      e.queue.push(p)
      return
    }
    if (p.body === null) {
      try {
        router.serialize(p)
      } catch (err) {
        // A local tell that cannot be serialized: say so, as a remote tell would.
        if (p.hops === 0) throw err
        return router.drop(p, 'storage-failed')
      }
    }
    let result: number | Promise<number>
    try {
      result = storage.save({ type: p.type, entityId: p.entityId, shard: p.shard, sender: p.sender?.path ?? null, manifest: p.manifest, body: p.body! })
    } catch (err) {
      this._core.log.warn('the message storage failed to save', err)
      return router.drop(p, 'storage-failed')
    }
    if (typeof result === 'number') {
      p.storedId = result
      return this._handPending(e, p)
    }
    e.saving = true
    result.then(
      (id) => {
        p.storedId = id
        this._saved(e, p)
      },
      (err: unknown) => {
        this._core.log.warn('the message storage failed to save', err)
        router.drop(p, 'storage-failed')
        this._saved(e, null)
      }
    )
  }

  private _saved(e: Entity, p: Pending | null): void {
    e.saving = false
    if (p !== null) {
      if (e.stopped) this._core.router.route(p)
      else this._handPending(e, p)
    }
    while (e.queue.length > 0 && !e.saving) {
      const next = e.queue.shift()!
      if (e.stopped || e.stopping) this._core.router.route(next)
      else this._save(e, next)
    }
  }

  private _handPending(e: Entity, p: Pending): void {
    this._hand(e, p.storedId, p.sender, p.hasValue, p.value, p.manifest, p.body)
  }

  /** Into the entity's mailbox, decoded, with the storage's id if it holds the message. */
  private _hand(e: Entity, storedId: number, sender: ActorRef | null, hasValue: boolean, value: unknown, manifest: string, body: Uint8Array | null): void {
    const core = this._core
    if (!hasValue) {
      try {
        value = core.system.serialization.deserialize(manifest, body!)
      } catch (err) {
        if (storedId !== 0) this.markDone(storedId)
        core.log.warn(`a message to ${e.region.name}/${e.id} did not decode`, err)
        return core.router.dropFor(e.region.name, e.id, sender, 'unknown-manifest')
      }
    }
    const msg = storedId === 0 ? value : new EntityDelivery(storedId, value)
    if (e.cell === null) return core.system.deliver(e.path, msg, sender)
    const lost = e.cell.offer(msg, sender)
    if (lost !== null) this._overflowed(e, lost.message, lost.sender)
  }

  /**
   * The entity's mailbox was full and did not keep this message (the new one, or the oldest): it
   * is dropped, done in the storage so that no later owner delivers it, counted as
   * `mailbox-full`, and an ask waiting on it fails with QUEUE_FULL.
   */
  private _overflowed(e: Entity, msg: unknown, sender: ActorRef | null): void {
    // The request to stop is never the one that goes (a drop-oldest mailbox may push it out).
    if (msg === STOP_ENTITY) return e.cell!.enqueue(STOP_ENTITY, null, true)
    if (msg instanceof EntityDelivery) this.markDone(msg.storedId)
    this._core.router.dropFor(e.region.name, e.id, sender, 'mailbox-full')
  }

  private _start(region: Region, entities: Map<string, Entity>, shard: number, id: string): Entity | null {
    const e = new Entity(this, region, shard, id)
    let behavior: Behavior<unknown>
    try {
      behavior = region.factory(id)
    } catch (err) {
      this._core.log.error(`the factory of ${region.name} threw for ${id}`, err)
      return null
    }
    entities.set(id, e)
    const system = this._core.system
    try {
      e.path = system.spawn(null, entityBehavior(behavior, e), region.spawn).localPath
    } catch (err) {
      if (entities.get(id) === e) entities.delete(id)
      this._core.log.error(`could not start entity ${region.name}/${id}`, err)
      return null
    }
    this._core.counters.entitiesStarted++
    if (e.stopped) return null
    e.cell = system.cell(e.path)
    this.live.set(e.key, e)
    return e
  }

  /** Stops an entity after what is in its mailbox. */
  private _stop(e: Entity): void {
    if (e.stopping || e.stopped) return
    e.stopping = true
    this._unlist(e)
    const cell = e.cell ?? this._core.system.cell(e.path)
    if (cell === null || cell.stopped) this.entityStopped(e)
    else cell.enqueue(STOP_ENTITY, null, true)
  }

  private _unlist(e: Entity): void {
    if (this.live.get(e.key) === e) this.live.delete(e.key)
  }

  private _sweep(region: Region): void {
    const t = now()
    // A sweep that comes late (the process was paused, or starved of CPU) does not count the
    // time it lost as idle: messages sent meanwhile may still wait unread in the sockets.
    const late = t - region.sweptAt - region.sweepMs
    const lost = late > region.sweepMs ? late : 0
    region.sweptAt = t
    for (const entities of region.shards.values()) {
      for (const e of entities.values()) {
        if (e.handled !== e.seen) {
          e.seen = e.handled
          e.activeAt = t
          continue
        }
        if (lost > 0) e.activeAt = Math.min(t, e.activeAt + lost)
        if (e.stopping || e.busy || e.saving || (e.cell !== null && e.cell.mailboxLength > 0)) continue
        if (t - e.activeAt < region.idleTimeoutMs) continue
        this._core.counters.passivations++
        this._stop(e)
      }
    }
  }
}
