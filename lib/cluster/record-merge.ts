// How one node takes the records another sends it: a record is merged only when it is sound
// (in range, signed by its owner, bound to the key its address already has) and someone this
// node trusts stands behind it (its owner directly, a vouch by a member, or a leader's decision).

import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Endorsement, GossipDelta, StatusDecision } from '../wire/index.ts'
import {
  STATUS_RANK,
  bytesEqual,
  compareOwner,
  copy,
  effectiveStatus,
  outOfRange,
  parseOrNull,
  toDelta,
  type MemberRecord,
  type MergeResult
} from './member-record.ts'
import type { Membership } from './membership.ts'
import { verifyDecision, verifyRecord, verifyVouch, vouchBytes, type Subject } from './record-signing.ts'

/** Joiners one member may vouch for before the leader has decided on them. */
export const MAX_PENDING_VOUCHES = 16

export class RecordMerge {
  private _view: Membership
  private _records: Map<string, MemberRecord>

  /** Merges into `records`, the map `view` holds. */
  constructor(view: Membership, records: Map<string, MemberRecord>) {
    this._view = view
    this._records = records
  }

  /**
   * Merges records from gossip sent by `from`; returns what changed and what was refused.
   * Records that lean on others (a vouch or a decision by a member not yet known here) are taken
   * in a later pass over the same message, so the order of a message's records does not matter.
   */
  merge(deltas: GossipDelta[], from: NodeAddress | null = null): MergeResult {
    const result: MergeResult = { changes: [], refused: [] }
    let pending: GossipDelta[] = []
    for (const d of deltas) {
      // Its owner's own word first: what vouches and decisions by it rely on.
      if (from !== null && d.address === from.toString()) this._mergeOne(d, from, result, true)
      else pending.push(d)
    }
    for (let pass = 0; pass < 3 && pending.length > 0; pass++) {
      const later: GossipDelta[] = []
      const before = result.changes.length
      for (const d of pending) if (!this._mergeOne(d, from, result, pass === 2)) later.push(d)
      pending = later
      if (result.changes.length === before) break
    }
    for (const d of pending) this._mergeOne(d, from, result, true)
    return result
  }

  /**
   * Takes one record if it is sound. Returns false when it could not be judged yet (it leans on a
   * member not known here) and `final` is false, to be tried again in a later pass.
   */
  private _mergeOne(d: GossipDelta, from: NodeAddress | null, result: MergeResult, final: boolean): boolean {
    const refuse = (why: string, forged: boolean) => {
      result.refused.push({ address: String(d.address), error: ClusterError.BAD_RECORD(why), forged })
      return true
    }
    const address = parseOrNull(d.address)
    if (address === null) return refuse(`unparseable address ${JSON.stringify(String(d.address).slice(0, 64))}`, true)
    const bad = outOfRange(d)
    if (bad !== null) return refuse(`${address.toString()}: ${bad}`, true)
    // A node named by its key signs with that key, and no other.
    if (address.publicKey !== null && !bytesEqual(address.publicKey, d.key)) {
      return refuse(`${address.toString()}: signed with a key that is not the one it is named by`, true)
    }
    if (address.equals(this._view.self)) {
      if (!this._view.observer) this._mergeOwn(d, result, refuse, final)
      return true
    }
    const mine = this._records.get(address.key)
    const sameKey = mine !== undefined && bytesEqual(mine.key, d.key)
    if (mine !== undefined && !sameKey) {
      // A second key for this address: only once the first one's member is out of the cluster,
      // and only as a newer incarnation.
      if (STATUS_RANK[mine.status] < STATUS_RANK.down) return refuse(`${address.toString()} is bound to another key`, true)
      if (d.incarnation <= mine.incarnation) return true
    }
    const fresh = mine === undefined || !sameKey
    // Heard from the owner itself, over its own connection: this node has met it.
    const direct = from !== null && from.equals(address)
    if (fresh && !direct) {
      // Cheap checks before any signature is checked, so a flood costs little.
      if (d.vouch === null && d.decision === null) return refuse(`${address.toString()}: nobody vouches for it`, true)
      if (!this._knownSigner(d.vouch) && !this._knownSigner(d.decision)) {
        if (!final) return false
        return refuse(`${address.toString()}: vouched for by no member known here`, false)
      }
    }
    if (mine === undefined && this._records.size >= this._view.maxMembers) {
      result.refused.push({ address: address.toString(), error: ClusterError.MEMBERSHIP_FULL(`${this._view.maxMembers} members already`), forged: false })
      return true
    }
    const ownerNewer = fresh || compareOwner(d, mine!) > 0
    if (ownerNewer && !verifyRecord({ ...d }, d.signature)) return refuse(`${address.toString()}: the owner's signature does not check`, true)
    if (!ownerNewer && mine !== undefined && d.incarnation < mine.incarnation) return true

    let vouch = ownerNewer ? (mine !== undefined && sameKey && mine.incarnation === d.incarnation ? mine.vouch : null) : mine!.vouch
    if (vouch === null) {
      if (direct && !this._view.observer) vouch = this._vouch(address, d)
      else if (d.vouch !== null) {
        const checked = this._checkVouch(address, d, d.vouch)
        if (checked === 'unknown' && !final) return false
        if (checked === 'bad') return refuse(`${address.toString()}: the vouch does not check`, checked === 'bad')
        if (checked === 'ok' && fresh && d.decision === null && this._pendingVouched(d.vouch.by) >= MAX_PENDING_VOUCHES) {
          // A member may vouch for a few joiners at a time; the rest wait until the leader has
          // taken those up (or they reach this node themselves).
          result.refused.push({ address: address.toString(), error: ClusterError.MEMBERSHIP_FULL(`${d.vouch.by} already vouches for ${MAX_PENDING_VOUCHES} joiners`), forged: false })
          return true
        }
        if (checked === 'ok') vouch = d.vouch
      }
    }
    let decision = mine !== undefined && sameKey && mine.incarnation === d.incarnation ? mine.decision : null
    if (d.decision !== null) {
      const checked = this._checkDecision(address, d, d.decision, decision)
      if (checked === 'unknown' && !final) return false
      if (checked === 'bad') return refuse(`${address.toString()}: the decision does not check`, true)
      if (checked === 'unknown') refuse(`${address.toString()}: ${d.decision.by} may not decide ${d.decision.status} here`, false)
      if (checked === 'ok') decision = d.decision
    }
    if (fresh && vouch === null && decision === null && !direct) {
      if (!final) return false
      // Nobody this node knows has met the owner: a record no member stands behind.
      return refuse(`${address.toString()}: nobody vouches for it`, false)
    }
    const owner = ownerNewer ? d : toDelta(mine!)
    const next: MemberRecord = {
      address,
      incarnation: owner.incarnation,
      version: owner.version,
      ownStatus: owner.status,
      status: effectiveStatus(owner.status, decision),
      roles: [...owner.roles],
      unreachable: owner.unreachable.map((o) => ({ address: o.address, version: o.version })),
      key: copy(owner.key),
      signature: copy(owner.signature),
      vouch: vouch === null ? null : { by: vouch.by, signature: copy(vouch.signature) },
      decision: decision === null ? null : { status: decision.status, by: decision.by, signature: copy(decision.signature) }
    }
    if (mine === undefined) {
      this._records.set(address.key, next)
      result.changes.push({ type: 'new', record: next })
    } else if (ownerNewer || next.decision !== mine.decision || next.vouch !== mine.vouch) {
      this._records.set(address.key, next)
      result.changes.push({ type: next.incarnation > mine.incarnation || !sameKey ? 'replaced' : 'updated', record: next, previous: mine })
    }
    return true
  }

  /** Records about this node: only the leader's decision about this very incarnation is taken. */
  private _mergeOwn(d: GossipDelta, result: MergeResult, refuse: (why: string, forged: boolean) => boolean, final: boolean): void {
    const own = this._view.own
    if (d.incarnation !== own.incarnation || !bytesEqual(d.key, own.key)) return // a previous life, or a forgery of one
    if (compareOwner(d, own) > 0 && !verifyRecord({ ...d }, d.signature)) {
      refuse(`a record of this node that it did not sign`, true)
      return
    }
    if (d.decision === null) return
    const checked = this._checkDecision(this._view.self, d, d.decision, own.decision)
    if (checked === 'bad' || (checked === 'unknown' && final)) {
      if (checked === 'bad') refuse(`a decision about this node that does not check`, true)
      return
    }
    if (checked !== 'ok') return
    const next: MemberRecord = { ...own, decision: { ...d.decision, signature: copy(d.decision.signature) }, status: effectiveStatus(own.ownStatus, d.decision) }
    this._records.set(this._view.self.key, next)
    result.changes.push({ type: 'updated', record: next, previous: own })
  }

  // Whether `address`, were it up, would be the leader in this view.
  private _wouldLead(address: NodeAddress): boolean {
    const unreachable = this._view.unreachableSet()
    for (const r of this._records.values()) {
      if (r.status === 'up' && r.address.key < address.key && !unreachable.has(r.address.key)) return false
    }
    return true
  }

  // Records vouched for by `by` that no leader has decided on yet.
  private _pendingVouched(by: string): number {
    let n = 0
    for (const r of this._records.values()) if (r.decision === null && r.vouch !== null && r.vouch.by === by) n++
    return n
  }

  private _knownSigner(e: Endorsement | null): boolean {
    if (e === null) return false
    const by = parseOrNull(e.by)
    return by !== null && (by.equals(this._view.self) || this._records.has(by.key))
  }

  private _vouch(address: NodeAddress, d: GossipDelta): Endorsement {
    const by = this._view.self.toString()
    return { by, signature: this._view.keys.sign(vouchBytes(by, { address: address.toString(), key: d.key, incarnation: d.incarnation })) }
  }

  private _checkVouch(address: NodeAddress, d: GossipDelta, v: Endorsement): 'ok' | 'bad' | 'unknown' {
    const by = parseOrNull(v.by)
    if (by === null || by.equals(address)) return 'bad'
    const voucher = by.equals(this._view.self) ? this._view.own : this._records.get(by.key)
    if (voucher === undefined || STATUS_RANK[voucher.status] >= STATUS_RANK.down) return 'unknown'
    return verifyVouch(voucher.key, v.by, { address: address.toString(), key: d.key, incarnation: d.incarnation }, v.signature) ? 'ok' : 'bad'
  }

  /** 'skip' when the decision says nothing newer than the one held. */
  private _checkDecision(address: NodeAddress, d: GossipDelta, decision: StatusDecision, held: StatusDecision | null): 'ok' | 'bad' | 'unknown' | 'skip' {
    const by = parseOrNull(decision.by)
    if (by === null) return 'bad'
    if (held !== null) {
      const rank = STATUS_RANK[decision.status]
      const heldRank = STATUS_RANK[held.status]
      if (rank < heldRank) return 'skip'
      // The same status signed again: taken from the leader of this view in place of another's.
      if (rank === heldRank && (held.by === decision.by || !this._view.mayDecide(by, address, decision.status))) return 'skip'
    }
    const signer = by.equals(address) ? { key: d.key } : by.equals(this._view.self) ? this._view.own : this._records.get(by.key)
    if (signer === undefined) return 'unknown'
    const subject: Subject = { address: address.toString(), key: d.key, incarnation: d.incarnation }
    if (!verifyDecision(signer.key, decision.by, subject, decision.status, decision.signature)) return 'bad'
    if (this._view.mayDecide(by, address, decision.status, d)) return 'ok'
    const current = effectiveStatus(d.status, held)
    if (by.equals(address)) {
      // A member deciding itself up (the first member of a cluster does, with nobody else to) is
      // taken only where it would then lead: no reachable up member at a lower address. A later
      // leader signs that decision again, so every view can check it against its own leader.
      return decision.status === 'up' && this._wouldLead(address) ? 'ok' : 'unknown'
    }
    // Decided by a member that led when it decided but does not lead in this view (views differ
    // while the leader changes): only the steps any leader takes unasked are taken from it, a
    // joiner up and a leaving or downed member out. Downing needs the leader of this view.
    const leader = by.equals(this._view.self) ? this._view.own : this._records.get(by.key)
    const active = leader !== undefined && (leader.status === 'up' || leader.status === 'leaving')
    const routine = decision.status === 'up' || (decision.status === 'removed' && (current === 'leaving' || current === 'down'))
    return active && routine ? 'ok' : 'unknown'
  }
}
