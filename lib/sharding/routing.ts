// Where a message for an entity goes: straight to the owner of its shard as an ordinary actor
// envelope to the entity's path (one encoding, as any remote tell), to the entity here if this
// node owns the shard, or into a bounded buffer while the shard has no reachable owner. A
// message that came from a peer and belongs elsewhere is passed on with a hop count, so that
// nodes whose allocations disagree cannot pass it round for ever. Everything not delivered is
// counted by reason, and an ask waiting on it fails at once.

import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ActorRef } from '../actors/actor-ref.ts'
import { copyBytes } from '../wire/primitives.ts'
import { entityPath, type EntityRefOwner } from './entity-ref.ts'
import { SHARDING_TAG, encodeShardingMessage } from './messages.ts'
import type { ShardingDropReason } from './options.ts'
import type { ShardingCore } from './core.ts'
import type { Entity } from './hosting.ts'

const MAX_HOPS = 4
// Handed-over messages kept at most that came before the allocation that explains them.
const MAX_EARLY = 10_000

/** A message on its way to an entity. */
export interface Pending {
  type: string
  entityId: string
  shard: number
  /** 0 from this node; otherwise times it crossed between nodes. */
  hops: number
  sender: ActorRef | null
  /** A local tell's value (body null until serialized) ... */
  hasValue: boolean
  value: unknown
  /** ... or the bytes from a peer or the storage. */
  manifest: string
  body: Uint8Array | null
  /** The storage's id, 0 when not saved. */
  storedId: number
  /** When it entered the buffer (monotonic ms), for bufferTimeoutMs. */
  since: number
  /** The key of the node it came from, null for this node (or the storage). */
  via: string | null
}

// A shard this node has just taken over from another node, whose messages from other nodes wait
// until the old owner says it has sent on all it held (or until `until`).
interface Handover {
  from: string
  until: number
  held: Pending[]
}

export class Router {
  /** Messages held here: in the buffer, and at entities that are stopping. */
  held: number
  private _core: ShardingCore
  private _bufferSize: number
  private _timeoutMs: number
  /** type \0 shard -> messages waiting for the shard to have a reachable owner, oldest first. */
  private _buffer: Map<string, Pending[]>
  /** type \0 shard -> the handover this node waits for. */
  private _handovers: Map<string, Handover>
  /** Handed-over messages that came before this node's allocation: key -> sender key, when. */
  private _early: Map<string, { from: string; at: number }>

  constructor(core: ShardingCore, bufferSize: number, timeoutMs: number) {
    this.held = 0
    this._core = core
    this._bufferSize = bufferSize
    this._timeoutMs = timeoutMs
    this._buffer = new Map()
    this._handovers = new Map()
    this._early = new Map()
  }

  /** Whether another message may be held here. */
  get full(): boolean {
    return this.held >= this._bufferSize
  }

  /** A tell through an entity ref on this node. */
  tellEntity(ref: EntityRefOwner, msg: unknown, sender: ActorRef | null): void {
    const core = this._core
    // The common case first: the shard's owner is another node, reachable.
    const owner = core.table.reachableOwner(ref.type, ref.shard)
    if (owner !== null && owner !== core.table.self && core.open()) {
      const { manifest, body } = core.system.serialization.serialize(msg)
      if (this._sendEnvelope(owner, ref.path, manifest, body, sender)) return
    } else if (owner === core.table.self) {
      const e = this.direct(ref.path)
      if (e !== undefined) return core.hosting.deliverTo(e, sender, true, msg, '', null, 0)
    }
    this.route({ type: ref.type, entityId: ref.id, shard: ref.shard, hops: 0, sender, hasValue: true, value: msg, manifest: '', body: null, storedId: 0, since: 0, via: null })
  }

  /**
   * The running entity a message to `path` may go straight to: one of a shard this node owns
   * (an entity runs only there), with no handover to wait for and no save of its own pending.
   */
  direct(path: string): Entity | undefined {
    if (this._handovers.size !== 0) return undefined
    const core = this._core
    const e = core.hosting.live.get(path)
    return e !== undefined && !e.saving && core.open() ? e : undefined
  }

  route(p: Pending): void {
    const core = this._core
    if (core.stopped || core.system.terminated) return this.drop(p, 'shutdown')
    if (core.refused !== null) return this.drop(p, 'refused')
    const owner = core.table.reachableOwner(p.type, p.shard)
    if (owner === null) return this._hold(p)
    if (owner === core.table.self) {
      const h = this._handovers.size === 0 ? undefined : this._handovers.get(p.type + '\0' + p.shard)
      if (h === undefined || p.via === h.from) return core.hosting.deliver(p)
      // What the old owner still holds for this shard is older than this: it goes first.
      if (this.full) return this.drop(p, 'buffer-full')
      if (p.body !== null) p.body = copyBytes(p.body)
      h.held.push(p)
      this.held++
      return
    }
    if (p.hops >= MAX_HOPS) return this.drop(p, 'too-many-hops')
    if (p.body === null) this.serialize(p)
    if (p.hops === 0) {
      // From this node: as a tell through the entity ref would have gone.
      let sent = false
      try {
        sent = this._sendEnvelope(owner, entityPath(p.type, p.entityId), p.manifest, p.body!, p.sender)
      } catch {}
      if (!sent) this.drop(p, 'undeliverable')
      return
    }
    const bytes = encodeShardingMessage({
      tag: SHARDING_TAG.ENVELOPE,
      type: p.type,
      entityId: p.entityId,
      hops: p.hops,
      sender: p.sender === null ? null : p.sender.path,
      manifest: p.manifest,
      body: p.body!
    })
    try {
      core.channel.send(owner, bytes)
    } catch {
      return this.drop(p, 'undeliverable')
    }
    core.counters.forwarded++
  }

  /** Routes again what waits for shards that now have a reachable owner. */
  flush(): void {
    if (this._buffer.size === 0) return
    for (const [key, list] of [...this._buffer]) {
      const at = key.indexOf('\0')
      if (this._core.table.reachableOwner(key.slice(0, at), Number(key.slice(at + 1))) === null) continue
      this._buffer.delete(key)
      this.held -= list.length
      for (const p of list) this.route(p)
    }
  }

  /**
   * This node takes the shard over from `from`: messages for it from other nodes wait until
   * `from` says it has sent on what it held, so that each sender's messages keep their order.
   */
  awaitHandover(type: string, shard: number, from: NodeAddress, at: number, waitMs: number): void {
    const key = type + '\0' + shard
    const early = this._early.get(key)
    if (early !== undefined) {
      this._early.delete(key)
      if (early.from === from.key && at - early.at < waitMs) return
    }
    this._handovers.set(key, { from: from.key, until: at + waitMs, held: [] })
  }

  /** `from` has sent on what it held for these shards. */
  handedOver(type: string, shards: number[], from: NodeAddress): void {
    for (const s of shards) {
      const key = type + '\0' + s
      const h = this._handovers.get(key)
      if (h !== undefined && h.from === from.key) this._release(key, h)
      else if (h === undefined) {
        // Before this node's own allocation: kept a while for it, a bounded number.
        if (this._early.size >= MAX_EARLY) this._early.clear()
        this._early.set(key, { from: from.key, at: now() })
      }
    }
  }

  /** Stops waiting for anything from `node` (it is gone), or for what is past its time. */
  releaseHandovers(node: NodeAddress | null, at: number): void {
    for (const [key, h] of [...this._handovers]) if ((node !== null && h.from === node.key) || at >= h.until) this._release(key, h)
  }

  /** Drops what has waited in the buffer longer than bufferTimeoutMs. */
  expire(at: number): void {
    for (const [key, list] of this._buffer) {
      let n = 0
      while (n < list.length && at - list[n]!.since >= this._timeoutMs) n++
      if (n === 0) continue
      const old = list.splice(0, n)
      if (list.length === 0) this._buffer.delete(key)
      this.held -= n
      for (const p of old) this.drop(p, 'expired')
    }
  }

  /** Drops everything in the buffer. */
  dropAll(reason: ShardingDropReason): void {
    const lists = [...this._buffer.values(), ...[...this._handovers.values()].map((h) => h.held)]
    this._buffer.clear()
    this._handovers.clear()
    for (const list of lists) {
      this.held -= list.length
      for (const p of list) this.drop(p, reason)
    }
  }

  /** Counts a message that will not be delivered, and fails the ask waiting on it. */
  drop(p: Pending, reason: ShardingDropReason): void {
    this.dropFor(p.type, p.entityId, p.sender, reason)
  }

  dropFor(type: string, entityId: string, sender: ActorRef | null, reason: ShardingDropReason): void {
    this.count(reason)
    this._core.log.debug(`dropped a message to ${type}/${entityId} (${reason})`)
    if (sender !== null) this._failAsk(sender, `a message to entity ${type}/${entityId} was dropped (${reason})`, reason)
  }

  count(reason: ShardingDropReason): void {
    const c = this._core.counters
    c.dropped++
    c.droppedByReason[reason] = (c.droppedByReason[reason] ?? 0) + 1
  }

  serialize(p: Pending): void {
    const { manifest, body } = this._core.system.serialization.serialize(p.value)
    p.manifest = manifest
    p.body = body
  }

  private _failAsk(sender: ActorRef, text: string, reason: ShardingDropReason): void {
    if (!sender.localPath.startsWith('/temp/')) return
    const err =
      reason === 'buffer-full' || reason === 'mailbox-full'
        ? ClusterError.QUEUE_FULL(text)
        : reason === 'refused'
          ? (this._core.refused ?? ClusterError.SHARD_COUNT_MISMATCH(text))
          : reason === 'shutdown'
            ? ClusterError.SYSTEM_STOPPED(text)
            : ClusterError.UNREACHABLE(text)
    try {
      this._core.system.failAsk(sender, err)
    } catch {}
  }

  /**
   * An envelope to the entity's path on `owner`, as a remote tell; false when the transport
   * would not take it (a message too large is the caller's error and throws).
   */
  private _sendEnvelope(owner: NodeAddress, path: string, manifest: string, body: Uint8Array, sender: ActorRef | null): boolean {
    const core = this._core
    let from: string | null = null
    if (sender !== null) {
      from = sender.node === null ? sender.localPath : sender.path
      // The answer to an ask of this node comes from the owner it went to.
      if (sender.node === null && from.startsWith('/temp/')) core.system._askSentTo(from, owner)
    }
    try {
      core.cluster.send(owner, { kind: 'envelope', to: path, from, manifest, body, correlationId: null })
      return true
    } catch (err) {
      if (err instanceof ClusterError && err.code === 'FRAME_TOO_LARGE') throw err
      return false
    }
  }

  private _release(key: string, h: Handover): void {
    this._handovers.delete(key)
    this.held -= h.held.length
    for (const p of h.held) this.route(p)
  }

  /** Until the shard has a reachable owner. */
  private _hold(p: Pending): void {
    if (this.full) return this.drop(p, 'buffer-full')
    // Kept as bytes: a tell that cannot be serialized throws now, and the value is not shared.
    if (p.body === null) this.serialize(p)
    else p.body = copyBytes(p.body)
    p.hasValue = false
    p.since = now()
    const key = p.type + '\0' + p.shard
    let list = this._buffer.get(key)
    if (list === undefined) this._buffer.set(key, (list = []))
    list.push(p)
    this.held++
  }
}
