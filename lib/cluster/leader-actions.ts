// What the leader does each gossip round: marks members down that stayed unreachable (by the
// downing rule), and, once every reachable member has seen its view, moves joiners up and
// leaving or downed members out. It also signs again what an earlier leader decided.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ClusterContext } from './context.ts'
import type { Convergence } from './convergence.ts'
import { STATUS_RANK, type Member } from './membership.ts'

// Leader rounds the leader waits for reachable members to agree before it acts on its own view.
const CONVERGENCE_WAIT_ROUNDS = 10

export class LeaderActions {
  private _ctx: ClusterContext
  private _convergence: Convergence
  private _sendSummary: (to: NodeAddress) => void
  private _unreachableSince: Map<string, number>
  // Leader rounds spent waiting for members that are reachable but have not agreed.
  private _waitedRounds: number

  constructor(ctx: ClusterContext, convergence: Convergence, sendSummary: (to: NodeAddress) => void) {
    this._ctx = ctx
    this._convergence = convergence
    this._sendSummary = sendSummary
    this._unreachableSince = new Map()
    this._waitedRounds = 0
  }

  /** Forgets how long members have been unreachable (this node was asleep, or is not leader). */
  resetClocks(): void {
    this._unreachableSince.clear()
  }

  // Whether this node has completed a handshake with this incarnation of `m` (or is `m`).
  private _met(m: Member): boolean {
    return m.address.equals(this._ctx.self) || this._ctx.transport.stats(m.address)?.incarnation === m.incarnation
  }

  run(): void {
    const ctx = this._ctx
    const membership = ctx.membership
    const leader = membership.leader()
    if (leader === null || !leader.equals(ctx.self)) {
      this._unreachableSince.clear()
      return
    }
    const t = now()
    const members = membership.members()
    // Downing waits for nobody; moving members up or out waits until everyone has seen this view.
    // With everyone reachable but some never agreeing (a view that cannot take a decision yet, or
    // a member that will not say), the leader acts on its own view after convergenceWaitRounds.
    const laggards = this._convergence.laggards(membership)
    if (laggards !== null) for (const a of laggards) this._sendSummary(a)
    if (laggards === null || laggards.length === 0) this._waitedRounds = 0
    else this._waitedRounds++
    const converged = laggards !== null && (laggards.length === 0 || this._waitedRounds > CONVERGENCE_WAIT_ROUNDS)
    let changed = false
    for (const m of members) {
      if (m.address.equals(ctx.self) && m.status !== 'joining') continue
      if (!m.reachable && STATUS_RANK[m.status] <= STATUS_RANK.leaving) {
        const since = this._unreachableSince.get(m.address.key) ?? t
        this._unreachableSince.set(m.address.key, since)
        if (ctx.opts.downingRule(m, t - since, members)) {
          ctx.log.info(`marking ${m.address.toString()} down: unreachable for ${t - since} ms`)
          changed = membership.decide(m.address, 'down') !== null || changed
        }
        continue
      }
      this._unreachableSince.delete(m.address.key)
      if (!converged) continue
      if (m.status === 'joining' && m.reachable) {
        // Only a joiner the leader has met, this very run of it over a handshake: a record a
        // member vouched for may name an address nobody runs at. Gossip opens the connection.
        if (!this._met(m)) this._sendSummary(m.address)
        else changed = membership.decide(m.address, 'up') !== null || changed
      } else if (m.status === 'leaving' || m.status === 'down') {
        changed = membership.decide(m.address, 'removed') !== null || changed
      }
    }
    // What another leader decided is signed again by this one, so that every node can check it
    // against the leader of its own view (one that joined after the other left included).
    const self = ctx.self.toString()
    for (const r of membership.records()) {
      if (r.decision !== null && r.decision.by !== self && STATUS_RANK[r.status] >= STATUS_RANK.up) {
        const status = r.decision.status as 'up' | 'down' | 'removed'
        changed = membership.decide(r.address, status, true) !== null || changed
      }
    }
    if (changed) ctx.publish()
  }
}
