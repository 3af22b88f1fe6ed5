// The entities this node hosts: per registered type (a region), the live entities of each shard.
// An entity starts on its first message and stops when idle (passivation) or when its shard
// moves away, after what is already in its mailbox. A message is saved in the storage before the
// entity gets it and marked done after; messages that come while an entity stops wait for it
// and then go wherever their shard is now.

import type { ActorRef } from '../actors/actor-ref.ts'
import type { Behavior, SpawnOptions } from '../actors/behavior.ts'
import type { ShardingCore } from './core.ts'
import { EntityDelivery, STOP_ENTITY, entityBehavior } from './entity-behavior.ts'
import type { EntityFactory } from './options.ts'
import type { Pending } from './routing.ts'

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

export class Hosting {
  readonly regions: Map<string, Region>
  private _core: ShardingCore

  constructor(core: ShardingCore) {
    this._core = core
    this.regions = new Map()
  }

  add(name: string, factory: EntityFactory, role: string | null, idleTimeoutMs: number, spawn: SpawnOptions): void {
    const region: Region = { name, factory, role, idleTimeoutMs, spawn, shards: new Map(), stopping: new Set(), sweep: null }
    if (idleTimeoutMs > 0) region.sweep = setInterval(() => this._sweep(region), Math.max(5, Math.floor(idleTimeoutMs / 4)))
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
    for (const r of this.regions.values()) for (const m of r.shards.values()) for (const e of m.values()) this._stop(e)
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

  /** Saves a message before the entity gets it (unless it came from the storage). */
  private _save(e: Entity, p: Pending): void {
    const { storage, router } = this._core
    if (storage === null || p.storedId !== 0) return this._hand(e, p)
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
      return this._hand(e, p)
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
      else this._hand(e, p)
    }
    while (e.queue.length > 0 && !e.saving) {
      const next = e.queue.shift()!
      if (e.stopped || e.stopping) this._core.router.route(next)
      else this._save(e, next)
    }
  }

  private _hand(e: Entity, p: Pending): void {
    let value = p.value
    if (!p.hasValue) {
      try {
        value = this._core.system.serialization.deserialize(p.manifest, p.body!)
      } catch (err) {
        if (p.storedId !== 0) this.markDone(p.storedId)
        this._core.log.warn(`a message to ${p.type}/${p.entityId} did not decode`, err)
        return this._core.router.drop(p, 'unknown-manifest')
      }
    }
    e.inflight++
    e.lastActive = Date.now()
    this._core.system.deliver(e.path, new EntityDelivery(p.storedId, value), p.sender as ActorRef | null)
  }

  private _start(region: Region, entities: Map<string, Entity>, shard: number, id: string): Entity | null {
    const e: Entity = { id, shard, region, path: '', stopping: false, stopped: false, inflight: 0, lastActive: Date.now(), waiting: [], queue: [], saving: false }
    let behavior: Behavior<unknown>
    try {
      behavior = region.factory(id)
    } catch (err) {
      this._core.log.error(`the factory of ${region.name} threw for ${id}`, err)
      return null
    }
    entities.set(id, e)
    const wrapped = entityBehavior(behavior, {
      done: (d) => this._ondone(e, d),
      stopped: () => this._onstopped(e)
    })
    try {
      e.path = this._core.system.spawn(null, wrapped, region.spawn).localPath
    } catch (err) {
      if (entities.get(id) === e) entities.delete(id)
      this._core.log.error(`could not start entity ${region.name}/${id}`, err)
      return null
    }
    this._core.counters.entitiesStarted++
    return e.stopped ? null : e
  }

  private _ondone(e: Entity, d: EntityDelivery): void {
    e.inflight--
    e.lastActive = Date.now()
    if (d.storedId !== 0) this.markDone(d.storedId)
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

  /** Stops an entity after what is in its mailbox. */
  private _stop(e: Entity): void {
    if (e.stopping || e.stopped) return
    e.stopping = true
    const cell = this._core.system.cell(e.path)
    if (cell === null) this._onstopped(e)
    else cell.enqueue(STOP_ENTITY, null, true)
  }

  private _onstopped(e: Entity): void {
    if (e.stopped) return
    e.stopped = true
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

  private _sweep(region: Region): void {
    const t = Date.now()
    for (const entities of region.shards.values()) {
      for (const e of entities.values()) {
        if (e.stopping || e.inflight > 0 || e.saving || t - e.lastActive < region.idleTimeoutMs) continue
        this._core.counters.passivations++
        this._stop(e)
      }
    }
  }
}
