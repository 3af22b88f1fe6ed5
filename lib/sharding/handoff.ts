// Shards moving between nodes, on this node's side. A shard the allocation takes away has its
// entities stopped here, and the leader is told once they all have; a shard it gives this node
// has what the storage holds undone for it delivered again; and before this node leaves, every
// shard is handed off and what waits here goes on to the new owners.

import type { ActorRef } from '../actors/actor-ref.ts'
import type { Coordinator } from './coordinator.ts'
import type { ShardingCore } from './core.ts'
import type { StoredMessage } from './message-storage.ts'
import { SHARDING_TAG } from './messages.ts'

export class Handoff {
  /** Set while this node hands its shards off before leaving. */
  leaving: boolean
  private _core: ShardingCore
  private _coordinator: Coordinator
  private _pollMs: number

  constructor(core: ShardingCore, coordinator: Coordinator, tickMs: number) {
    this.leaving = false
    this._core = core
    this._coordinator = coordinator
    this._pollMs = Math.min(20, tickMs)
  }

  /** The allocation moved these shards away: stop their entities, then tell the leader. */
  letGo(type: string, shards: number[]): void {
    const done = this._core.hosting.stopShards(type, shards)
    if (done.length > 0) this._sendStopped(type, done)
  }

  /** The last entity of a shard that moved away has stopped. */
  shardStopped(type: string, shard: number): void {
    this._core.counters.handoffs++
    this._sendStopped(type, [shard])
  }

  /** This node now owns the shard: what the storage holds undone for it is delivered again. */
  takeOver(type: string, shard: number): void {
    const { storage, log } = this._core
    if (storage === null) return
    let result: StoredMessage[] | Promise<StoredMessage[]>
    try {
      result = storage.undelivered(type, shard)
    } catch (err) {
      log.warn('the message storage failed to list undelivered messages', err)
      return
    }
    if (Array.isArray(result)) this._redeliver(type, shard, result)
    else result.then((list) => this._redeliver(type, shard, list), (err: unknown) => log.warn('the message storage failed to list undelivered messages', err))
  }

  /**
   * Before this node leaves: ask the leader to move every shard away, and wait until the
   * entities have stopped and what was buffered here has gone on to the new owners.
   */
  async handOffAll(): Promise<void> {
    const core = this._core
    if (core.stopped || core.hosting.regions.size === 0) return
    this.leaving = true
    core.report()
    while (!core.stopped && !core.cluster.stopped) {
      if (core.router.held === 0 && !core.hosting.busy() && !core.table.ownsAny()) break
      await new Promise<void>((resolve) => setTimeout(resolve, this._pollMs))
    }
  }

  private _redeliver(type: string, shard: number, list: StoredMessage[]): void {
    const core = this._core
    for (const m of list) {
      let sender: ActorRef | null = null
      try {
        if (m.sender !== null) sender = core.system.ref(m.sender)
      } catch {}
      core.counters.redelivered++
      core.router.route({ type, entityId: m.entityId, shard, hops: 0, sender, hasValue: false, value: undefined, manifest: m.manifest, body: m.body, storedId: m.id, since: 0, via: null })
    }
  }

  private _sendStopped(type: string, shards: number[]): void {
    const { cluster } = this._core
    const leader = cluster.leader
    if (leader === null) return
    if (leader.equals(cluster.self)) this._coordinator.onshardstopped(cluster.self, type, shards)
    else this._core.send(leader, { tag: SHARDING_TAG.SHARD_STOPPED, type, shards })
  }
}
