// Heartbeats to the next few members on the ring, one phi accrual detector per watched member,
// and this node's own observations (the members it cannot reach) written into its record. A
// node whose own timers ran late judges nobody on that tick.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Observation } from '../wire/index.ts'
import { others, type ClusterContext } from './context.ts'
import { STATUS_RANK } from './membership.ts'
import { PauseDetector } from './pause-detector.ts'
import { PHI_DEFAULTS, PhiAccrualDetector, type PhiAccrualOptions } from './phi-accrual.ts'

export class FailureDetection {
  private _ctx: ClusterContext
  private _phi: PhiAccrualOptions
  private _detectors: Map<string, PhiAccrualDetector>
  private _pause: PauseDetector

  constructor(ctx: ClusterContext, phi: PhiAccrualOptions) {
    this._ctx = ctx
    this._phi = phi
    this._detectors = new Map()
    this._pause = new PauseDetector(ctx.opts.heartbeatIntervalMs, phi.acceptableHeartbeatPauseMs ?? PHI_DEFAULTS.acceptableHeartbeatPauseMs)
  }

  /** A heartbeat from `peer` was answered. */
  heard(peer: NodeAddress): void {
    this._detectors.get(peer.key)?.heartbeat(now())
  }

  /** Heartbeats to the next few members on the ring, and what their silence says. */
  tick(): void {
    const ctx = this._ctx
    if (ctx.stopped) return
    const t = now()
    const interval = ctx.opts.heartbeatIntervalMs
    if (ctx.clientOnly) {
      // Nobody's judge, but the round trip to each member is what a status view shows.
      for (const m of others(ctx)) if (m.status === 'up') ctx.transport.heartbeat(m.address, interval / 2)
      return
    }
    const paused = this._pause.tick(t)
    if (paused) {
      // This node heard nothing while it slept: start every window again instead of judging.
      ctx.stats.pausesDetected++
      this._detectors.clear()
      ctx.log.warn(`this node's timers ran late by more than ${this._pause.acceptablePauseMs} ms; judging nobody on this tick`)
    }
    const watched = this.watched()
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
      if (!detector.isAvailable(t)) unreachable.push({ address: address.toString(), version: ctx.membership.record(address)?.version ?? 0 })
      // The transport makes heartbeats, one per connection per interval at most: one that went
      // out on the transport's own schedule lately does for this round too.
      ctx.stats.heartbeatsSent++
      ctx.transport.heartbeat(address, interval / 2)
    }
    if (paused) return
    const own = ctx.membership.own.unreachable
    if (unreachable.length !== own.length || unreachable.some((o, i) => o.address !== own[i]!.address || o.version !== own[i]!.version)) {
      ctx.membership.updateOwn({ unreachable })
      ctx.publish()
    }
  }

  /** The members after this one on a ring of everyone not down or removed, sorted by address. */
  watched(): NodeAddress[] {
    const self = this._ctx.self
    const ring = this._ctx.membership
      .records()
      .filter((r) => STATUS_RANK[r.status] <= STATUS_RANK.leaving)
      .map((r) => r.address)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const at = ring.findIndex((a) => a.equals(self))
    if (at === -1) return []
    const out: NodeAddress[] = []
    for (let i = 1; i < ring.length && out.length < this._ctx.opts.monitoredMembers; i++) out.push(ring[(at + i) % ring.length]!)
    return out
  }
}
