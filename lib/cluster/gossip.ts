// The gossip exchange: a round opens with a keyed summary (or now and then the whole digest),
// differing views swap digests and the records the other side lacks, and what comes in is
// merged. Refused records are counted and a forger loses its connection; a live node called
// unreachable refutes it. Nothing a peer sends can throw out of here.

import b4a from 'b4a'
import { now } from '../../backends/clock.ts'
import { randomBytes } from '../../backends/crypto.ts'
import type { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import { messageSize, type GossipMessage } from '../wire/index.ts'
import { others, sameAddress, type ClusterContext } from './context.ts'
import type { Convergence } from './convergence.ts'
import { toDelta, type Member, type Refusal } from './membership.ts'
import { REFUSED_CHANNEL } from './options.ts'

// Refusals logged at warn, at most, over a node's life.
const REFUSALS_LOGGED = 20

export class GossipExchange {
  private _ctx: ClusterContext
  private _convergence: Convergence
  private _onheard: (from: NodeAddress) => void
  private _lastRefutation: number
  private _refusalsLogged: number
  // Rounds since this node last opened one with its whole digest.
  private _sinceFull: number

  /** `onheard` runs after each message from a peer was merged, before it is answered. */
  constructor(ctx: ClusterContext, convergence: Convergence, onheard: (from: NodeAddress) => void) {
    this._ctx = ctx
    this._convergence = convergence
    this._onheard = onheard
    this._lastRefutation = 0
    this._refusalsLogged = 0
    this._sinceFull = 0
  }

  /** Handles one gossip message; a failure is counted and logged. */
  receive(from: NodeAddress, msg: GossipMessage): void {
    try {
      this._handle(from, msg)
    } catch (err) {
      this._ctx.stats.gossipErrors++
      this._ctx.log.warn(`gossip from ${from.toString()} failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  /**
   * One round: a summary to one member, and now and then the whole digest whatever the summaries
   * say. A digest grows with the members, so it goes out every fullGossipEvery rounds per other
   * member: what it costs a round stays the same as the cluster grows. (Each round's summary is
   * keyed afresh, so two views that differ cannot keep colliding; the digest is the last resort.)
   */
  round(): void {
    const all = others(this._ctx)
    const target = this._target(all)
    if (target === null) return
    this._sinceFull++
    if (this._sinceFull >= this._ctx.opts.fullGossipEvery * all.length) {
      this._sinceFull = 0
      this.sendDigest(target)
    } else {
      this.sendSummary(target)
    }
  }

  /** Opens a full exchange: our whole digest, to be answered with what we lack. */
  sendDigest(to: NodeAddress): void {
    this._send(to, { kind: 'gossip', digest: this._ctx.membership.digest(), deltas: [], reply: true, summary: null })
  }

  /** Opens a round cheaply: a summary of our view, answered only if the views differ. */
  sendSummary(to: NodeAddress, reply = true): void {
    this._send(to, { kind: 'gossip', digest: [], deltas: [], reply, summary: this._ctx.membership.summary(randomBytes(8)) })
  }

  /** Sends `to` this node's record of it (a member just removed learns that it is out). */
  sendRecordOf(to: NodeAddress): void {
    const r = this._ctx.membership.record(to)
    if (r !== null) this._send(to, { kind: 'gossip', digest: [], deltas: [toDelta(r)], reply: false, summary: null })
  }

  private _handle(from: NodeAddress, msg: GossipMessage): void {
    const ctx = this._ctx
    const membership = ctx.membership
    const { changes, refused } = membership.merge(msg.deltas, from)
    if (refused.length > 0 && this._onrefused(from, refused)) {
      if (changes.length > 0) ctx.publish()
      return
    }
    this._onheard(from)
    if (msg.summary !== null) {
      // A summary: silence if the views agree, else our whole digest. A round the leader opened
      // is answered with a summary of ours when they agree, so the leader knows this node has
      // seen its view.
      this._convergence.report(from, msg.summary)
      if (!membership.sameSummary(msg.summary)) this.sendDigest(from)
      else if (msg.reply && !ctx.clientOnly && sameAddress(membership.leader(), from)) this.sendSummary(from, false)
    } else if (msg.reply) {
      // A digest: answer with what they lack, and ask for what we lack.
      const { newer, wanted } = membership.compare(msg.digest)
      this._send(from, { kind: 'gossip', digest: wanted, deltas: newer, reply: false, summary: null })
    } else if (msg.digest.length > 0) {
      this._send(from, { kind: 'gossip', digest: [], deltas: membership.deltasFor(msg.digest), reply: false, summary: null })
    }
    if (changes.length > 0) {
      this._refuteIfAccused()
      ctx.publish()
    }
  }

  /**
   * Counts what was refused; a sender caught forging loses its connection and what else it sent
   * in that message. Returns whether the message is to be dropped.
   */
  private _onrefused(from: NodeAddress, refused: Refusal[]): boolean {
    const ctx = this._ctx
    let forged: Refusal | null = null
    for (const r of refused) {
      const code = r.error.code
      ctx.stats.refusedRecords[code] = (ctx.stats.refusedRecords[code] ?? 0) + 1
      if (r.forged && forged === null) forged = r
      if (code === 'MEMBERSHIP_FULL' && r.address === from.toString()) {
        ctx.log.warn(`refused ${from.toString()}: ${r.error.message}`)
        ctx.transport.send(from, { kind: 'subsystem', channel: REFUSED_CHANNEL, body: b4a.from(r.error.message, 'utf8') })
      }
    }
    if (this._refusalsLogged < REFUSALS_LOGGED) {
      this._refusalsLogged++
      ctx.log.warn(`refused ${refused.length} record(s) from ${from.toString()}: ${refused[0]!.error.message}`)
    }
    if (forged === null) return false
    ctx.stats.forgersDisconnected++
    ctx.transport.disconnect(from)
    return true
  }

  /**
   * SWIM's refutation: a live node that some member calls unreachable at its current record
   * answers with a newer one, which makes that observation stale everywhere; a member that still
   * cannot reach it says so again about the new version. At most once a heartbeat interval.
   */
  private _refuteIfAccused(): void {
    const ctx = this._ctx
    if (ctx.clientOnly || ctx.stopped || !ctx.membership.accused()) return
    const own = ctx.membership.own.status
    if (own === 'down' || own === 'removed') return
    const t = now()
    if (t - this._lastRefutation < ctx.opts.heartbeatIntervalMs) return
    this._lastRefutation = t
    ctx.stats.refutations++
    ctx.membership.updateOwn({})
    ctx.log.debug(`${ctx.self.toString()} is called unreachable while alive; refuting`)
  }

  private _target(all: Member[]): NodeAddress | null {
    if (all.length === 0) return null
    const unreachable = all.filter((m) => !m.reachable)
    const reachable = all.filter((m) => m.reachable)
    const every = this._ctx.opts.unreachableGossipEvery
    const pool = reachable.length === 0 || (unreachable.length > 0 && this._ctx.stats.gossipRounds % every === 0) ? unreachable : reachable
    return pool[Math.floor(Math.random() * pool.length)]!.address
  }

  private _send(to: NodeAddress, msg: GossipMessage): void {
    const ctx = this._ctx
    try {
      const size = messageSize(msg)
      ctx.stats.gossipMessagesSent++
      ctx.stats.gossipBytesSent += size
      ctx.transport.send(to, msg)
    } catch (err) {
      ctx.discard('not-sent')
      ctx.log.warn(`could not gossip to ${to.toString()}: ${(err as ClusterError).message}`)
    }
  }
}
