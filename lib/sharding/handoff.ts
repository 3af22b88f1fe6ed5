// Shards moving between nodes, on this node's side. A shard the allocation takes away has its
// entities stopped here, and the leader is told once they all have; a shard it gives this node
// has what the storage holds undone for it delivered again; and before this node leaves, every
// shard is handed off and what waits here goes on to the new owners.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ActorRef } from '../actors/actor-ref.ts'
import type { Coordinator } from './coordinator.ts'
import type { ShardingCore } from './core.ts'
import type { StoredMessage } from './message-storage.ts'
import { SHARDING_TAG } from './messages.ts'
import type { ShardMovedEvent } from './options.ts'

/** Per new owner, per type, the shards this node owned last and hands over. */
export type HandedOver = Map<string, { to: NodeAddress; types: Map<string, number[]> }>

export class Handoff {
  /** Set while this node hands its shards off before leaving. */
  leaving: boolean
  private _core: ShardingCore
  private _coordinator: Coordinator
  private _pollMs: number
  /** How long a new owner waits at most for the old owner's handed-over. */
  private _handoverMs: number
  /** How long at most an old owner passes on late messages before it says it handed over. */
  private _graceMs: number
  private _graceTimers: Set<TimerHandle>

  constructor(core: ShardingCore, coordinator: Coordinator, tickMs: number) {
    this.leaving = false
    this._core = core
    this._coordinator = coordinator
    this._pollMs = Math.min(20, tickMs)
    this._handoverMs = tickMs * 4
    this._graceMs = tickMs / 2
    this._graceTimers = new Set()
  }

  /**
   * Shards moved in a new allocation: for each this node takes from a reachable node, its
   * messages from other nodes wait for that node's handed-over; returns those it hands over.
   */
  moved(moved: ShardMovedEvent[]): HandedOver {
    const { table, router } = this._core
    const self = table.self
    const handed: HandedOver = new Map()
    for (const m of moved) {
      if (m.from !== null && m.from.equals(self) && !m.to.equals(self)) {
        let h = handed.get(m.to.key)
        if (h === undefined) handed.set(m.to.key, (h = { to: m.to, types: new Map() }))
        const list = h.types.get(m.type)
        if (list === undefined) h.types.set(m.type, [m.shard])
        else list.push(m.shard)
      } else if (m.to === self && m.from !== null && !m.from.equals(self) && !table.isAway(m.from)) {
        router.awaitHandover(m.type, m.shard, m.from, now(), this._handoverMs)
      }
    }
    return handed
  }

  /**
   * After what this node held for the shards it handed over, and what senders that had not yet
   * heard of the move still sent here meanwhile: the new owners may deliver the rest.
   */
  handOver(handed: HandedOver): void {
    if (handed.size === 0) return
    const timer = setTimeout(() => {
      this._graceTimers.delete(timer)
      if (this._core.stopped) return
      for (const { to, types } of handed.values()) for (const [type, shards] of types) this._core.send(to, { tag: SHARDING_TAG.HANDED_OVER, type, shards })
    }, this._grace())
    this._graceTimers.add(timer)
  }

  close(): void {
    for (const timer of this._graceTimers) clearTimeout(timer)
    this._graceTimers.clear()
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

  /**
   * How long messages sent before their senders heard of a move may still be on their way here:
   * twice the longest round trip to a member, and a little, within half a tick (all of it while
   * a round trip is unknown).
   */
  private _grace(): number {
    const { cluster } = this._core
    let longest = 0
    for (const m of cluster.members()) {
      if (m.address.equals(cluster.self) || m.status === 'removed' || m.status === 'down') continue
      const rtt = cluster.transport.stats(m.address)?.rttMs ?? null
      if (rtt === null) return this._graceMs
      if (rtt > longest) longest = rtt
    }
    return Math.min(this._graceMs, 2 * longest + 5)
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
