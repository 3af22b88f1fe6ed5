// Turns changes of the membership view into member events: compares the view with the last one
// published, emits what changed, remembers when members were removed (tombstones, forgotten
// after tombstoneMs) and stops this node when the others have put it out.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Cluster } from './cluster.ts'
import { sameAddress, type ClusterContext } from './context.ts'
import { STATUS_RANK, type Member, type MemberRecord } from './membership.ts'

export interface ViewHooks {
  /** After every publish: readiness may have changed. */
  onview(): void
  /** Whether this node is leaving on its own (then being removed is no surprise). */
  leaving(): boolean
  /** This node was put out (down or removed): stop it. */
  stop(): void
  /** Sends a member just removed its record, so it learns that it is out. */
  tellRemoved(address: NodeAddress): void
}

export class ViewEvents {
  private _ctx: ClusterContext
  private _emitter: Cluster
  private _hooks: ViewHooks
  private _view: Map<string, Member>
  private _leader: NodeAddress | null
  private _removedAt: Map<string, number>
  // Removed members told so and still connected, closed a gossip interval after their removal.
  private _closing: Map<string, NodeAddress>

  constructor(ctx: ClusterContext, emitter: Cluster, hooks: ViewHooks) {
    this._ctx = ctx
    this._emitter = emitter
    this._hooks = hooks
    this._view = new Map()
    this._leader = null
    this._removedAt = new Map()
    this._closing = new Map()
  }

  /** The leader as last published. */
  get leader(): NodeAddress | null {
    return this._leader
  }

  /** Compares the view with the last one published and emits what changed. */
  publish(): void {
    const ctx = this._ctx
    const emitter = this._emitter
    const next = new Map<string, Member>()
    for (const m of ctx.membership.members()) next.set(m.address.key, m)
    for (const [key, m] of next) {
      const before = this._view.get(key)
      if (before === undefined || before.incarnation !== m.incarnation) {
        if (before !== undefined && before.status !== 'removed') emitter.emit('member-removed', { ...before, status: 'removed' })
        if (m.status !== 'removed') emitter.emit('member-joined', m)
        if (STATUS_RANK[m.status] >= STATUS_RANK.up && m.status !== 'removed') this._emitStatus(m)
        continue
      }
      if (before.status !== m.status) this._emitStatus(m)
      if (before.reachable !== m.reachable && STATUS_RANK[m.status] <= STATUS_RANK.leaving) {
        emitter.emit(m.reachable ? 'member-reachable' : 'member-unreachable', m)
      }
    }
    this._view = next
    this._hooks.onview()
    for (const m of next.values()) {
      if (m.status === 'removed' && !this._removedAt.has(m.address.key)) {
        this._removedAt.set(m.address.key, now())
        if (m.address.equals(ctx.self)) continue
        // Told before it is let go: a leaving member learns it is out from this (a leader that
        // leaves too shuts down right after, and closing the connection at once dropped the news,
        // so the other leaver waited out leaveTimeoutMs). The connection closes a round later.
        this._hooks.tellRemoved(m.address)
        this._closing.set(m.address.key, m.address)
      }
    }
    const leader = ctx.membership.leader()
    if (!sameAddress(leader, this._leader)) {
      const previous = this._leader
      this._leader = leader
      ctx.log.debug(`leader is now ${leader?.toString() ?? 'nobody'}`)
      emitter.emit('leader-changed', leader, previous)
    }
    const own = ctx.membership.own.status
    if ((own === 'down' || own === 'removed') && !ctx.stopped && !ctx.clientOnly) {
      // The others have put this node out: it stops taking part.
      if (own === 'removed' && this._hooks.leaving()) ctx.log.debug(`${ctx.self.toString()} has left; stopping`)
      else ctx.log.warn(`${ctx.self.toString()} was marked ${own} by the cluster; stopping`)
      this._hooks.stop()
    }
  }

  /** Closes the connections of members removed a gossip interval ago or more. */
  closeRemoved(): void {
    const t = now()
    const transport = this._ctx.transport
    for (const [key, address] of this._closing) {
      if (t - (this._removedAt.get(key) ?? 0) < this._ctx.opts.gossipIntervalMs) continue
      this._closing.delete(key)
      if (transport.exclude !== undefined) transport.exclude(address)
      else transport.disconnect(address)
    }
  }

  /** Forgets removed members once they have been remembered for tombstoneMs. */
  forgetOldTombstones(): void {
    const t = now()
    const membership = this._ctx.membership
    for (const [key, at] of this._removedAt) {
      if (t - at < this._ctx.opts.tombstoneMs) continue
      const r = membership.records().find((x) => x.address.key === key)
      if (r !== undefined) membership.forget(r.address)
      this._removedAt.delete(key)
    }
  }

  private _emitStatus(m: Member): void {
    const event = STATUS_EVENT[m.status]
    if (event !== null) this._emitter.emit(event, m)
  }
}

const STATUS_EVENT: Record<MemberRecord['status'], 'member-up' | 'member-leaving' | 'member-down' | 'member-removed' | null> = {
  joining: null,
  up: 'member-up',
  leaving: 'member-leaving',
  down: 'member-down',
  removed: 'member-removed'
}
