// The membership view one node holds, and how it merges what others tell it. Pure: no timers,
// no sockets. Records are ordered by (incarnation, version, status rank); gossip exchanges a
// digest of those and the records the other side lacks (scuttlebutt).
//
// Who writes what, checked on every merge: a node writes its own record (joining, leaving, its
// roles, the members it currently cannot reach) and signs it with its key; the leader writes other
// members' status (up, down, removed) as a decision it signs. A key is bound to an address the
// first time a verified record for that address is taken, and a second key is refused while the
// first one's member is alive. A record enters the view only from its owner directly, or vouched
// for by a member that met the owner, or with a decision of the leader.

import b4a from 'b4a'
import { hmacSha256 } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import { NodeAddress } from '../node-address.ts'
import type { Endorsement, GossipDelta, GossipDigestEntry, MemberStatus, Observation, StatusDecision } from '../wire/index.ts'
import {
  decisionBytes,
  signRecord,
  verifyDecision,
  verifyRecord,
  verifyVouch,
  vouchBytes,
  type SigningKeyPair,
  type Subject
} from './record-signing.ts'

export const STATUS_RANK: Record<MemberStatus, number> = { joining: 0, up: 1, leaving: 2, down: 3, removed: 4 }

/**
 * Well below what the wire can carry (2^53-1), so nothing a member says can push a counter to
 * where it no longer encodes. A node bumps its version once per change of its record: 2^32 is
 * over a century at one change a second. Incarnations are milliseconds since 1970 times 1024.
 */
export const MAX_VERSION = 2 ** 32
export const MAX_INCARNATION = 2 ** 52
export const DEFAULT_MAX_MEMBERS = 1000
export const SUMMARY_BYTES = 16
const SUMMARY_KEY_BYTES = 8

// Who leader() picks first: up members, then leaving ones, then joining ones.
const LEAD_RANK: Partial<Record<MemberStatus, number>> = { up: 3, leaving: 2, joining: 1 }

const OWNER_STATUSES: readonly MemberStatus[] = ['joining', 'leaving']
const DECIDED_STATUSES: readonly MemberStatus[] = ['up', 'down', 'removed']

export interface MemberRecord {
  address: NodeAddress
  incarnation: number
  version: number
  /** The record's status: the higher of the owner's own and the leader's decision. */
  status: MemberStatus
  /** What the owner says of itself: joining or leaving. */
  ownStatus: MemberStatus
  roles: string[]
  /** Members this member currently cannot reach (its own observations). */
  unreachable: Observation[]
  key: Uint8Array
  signature: Uint8Array
  vouch: Endorsement | null
  decision: StatusDecision | null
}

/** A member as users see it. */
export interface Member {
  address: NodeAddress
  incarnation: number
  status: MemberStatus
  roles: string[]
  reachable: boolean
}

export type Change =
  | { type: 'new'; record: MemberRecord }
  | { type: 'updated'; record: MemberRecord; previous: MemberRecord }
  | { type: 'replaced'; record: MemberRecord; previous: MemberRecord }

/**
 * A record this node would not take, and why. `forged` ones are proof of a misbehaving sender
 * (a bad signature, a value out of range, a second key); the others may be a view lagging behind.
 */
export interface Refusal {
  address: string
  error: ClusterError
  forged: boolean
}

export interface MergeResult {
  changes: Change[]
  refused: Refusal[]
}

export interface MembershipOptions {
  observer?: boolean
  /** Records kept at most, this node and tombstones included. Default 1000. */
  maxMembers?: number
}

export class Membership {
  readonly self: NodeAddress
  /** An observer (a client-only node) follows the members' records but has none of its own. */
  readonly observer: boolean
  readonly maxMembers: number
  readonly keys: SigningKeyPair
  private _records: Map<string, MemberRecord>
  private _observerRecord: MemberRecord
  private _lines: Uint8Array | null
  private _unreachable: Set<string> | null

  constructor(self: NodeAddress, incarnation: number, roles: string[], keys: SigningKeyPair, opts: MembershipOptions = {}) {
    this.self = self
    this.observer = opts.observer === true
    this.maxMembers = opts.maxMembers ?? DEFAULT_MAX_MEMBERS
    this.keys = keys
    this._records = new Map()
    this._lines = null
    this._unreachable = null
    this._observerRecord = this._signed({
      address: self,
      incarnation,
      version: 1,
      status: 'joining',
      ownStatus: 'joining',
      roles: [...roles],
      unreachable: [],
      key: keys.publicKey,
      signature: new Uint8Array(64),
      vouch: null,
      decision: null
    })
    if (!this.observer) this._records.set(self.key, this._observerRecord)
  }

  get own(): MemberRecord {
    return this._records.get(this.self.key) ?? this._observerRecord
  }

  get size(): number {
    return this._records.size
  }

  records(): MemberRecord[] {
    return [...this._records.values()]
  }

  record(address: NodeAddress): MemberRecord | null {
    return this._records.get(address.key) ?? null
  }

  digest(): GossipDigestEntry[] {
    const out: GossipDigestEntry[] = []
    for (const r of this._records.values()) {
      out.push({ address: r.address.toString(), incarnation: r.incarnation, version: r.version, status: r.status })
    }
    return out
  }

  /**
   * 8 bytes of key, then the first 8 bytes of HMAC-SHA256 under that key of the digest in address
   * order: equal summaries mean equal views, so a gossip round between two converged nodes
   * carries this and nothing else. Whoever opens a round picks the key at random, so no member
   * can craft a view that collides with another under it.
   */
  summary(key: Uint8Array): Uint8Array {
    const out = new Uint8Array(SUMMARY_BYTES)
    out.set(key.subarray(0, SUMMARY_KEY_BYTES), 0)
    out.set(hmacSha256(key.subarray(0, SUMMARY_KEY_BYTES), [this._digestLines()]).subarray(0, SUMMARY_BYTES - SUMMARY_KEY_BYTES), SUMMARY_KEY_BYTES)
    return out
  }

  /** Whether the other side's summary says it holds the view this node holds. */
  sameSummary(theirs: Uint8Array): boolean {
    if (theirs.byteLength !== SUMMARY_BYTES) return false
    const mine = this.summary(theirs.subarray(0, SUMMARY_KEY_BYTES))
    for (let i = 0; i < SUMMARY_BYTES; i++) if (mine[i] !== theirs[i]) return false
    return true
  }

  /**
   * Records this node holds newer than the other side's digest says it has, and the digest entries
   * of records the other side has newer (so they can be asked for).
   */
  compare(theirs: GossipDigestEntry[]): { newer: GossipDelta[]; wanted: GossipDigestEntry[] } {
    const seen = new Set<string>()
    const newer: GossipDelta[] = []
    const wanted: GossipDigestEntry[] = []
    for (const entry of theirs) {
      const address = parseOrNull(entry.address)
      if (address === null) continue
      seen.add(address.key)
      const mine = this._records.get(address.key)
      if (mine === undefined) {
        if (wanted.length < this.maxMembers) wanted.push(entry)
        continue
      }
      const order = compareRecords(mine, entry)
      if (order > 0) newer.push(toDelta(mine))
      else if (order < 0) wanted.push(entry)
    }
    for (const [key, r] of this._records) if (!seen.has(key)) newer.push(toDelta(r))
    return { newer, wanted }
  }

  deltasFor(entries: GossipDigestEntry[]): GossipDelta[] {
    const out: GossipDelta[] = []
    for (const e of entries) {
      const address = parseOrNull(e.address)
      if (address === null) continue
      const r = this._records.get(address.key)
      if (r !== undefined) out.push(toDelta(r))
    }
    return out
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
    if (result.changes.length > 0) this._dirty()
    return result
  }

  /** This node changes its own record: a new version everyone will take. */
  updateOwn(change: Partial<Pick<MemberRecord, 'roles' | 'unreachable'>> & { status?: 'joining' | 'leaving' }): MemberRecord {
    const own = this.own
    const ownStatus = change.status !== undefined && STATUS_RANK[change.status] > STATUS_RANK[own.ownStatus] ? change.status : own.ownStatus
    const next = this._signed({
      ...own,
      roles: change.roles ?? own.roles,
      unreachable: change.unreachable ?? own.unreachable,
      ownStatus,
      status: effectiveStatus(ownStatus, own.decision),
      version: own.version + 1
    })
    if (this.observer) this._observerRecord = next
    else this._records.set(this.self.key, next)
    this._dirty()
    return next
  }

  /**
   * The leader decides a member's status (never lowers it), signing the decision. Also used to
   * sign again, at the same status, a decision whose signer has left the cluster.
   */
  decide(address: NodeAddress, status: 'up' | 'down' | 'removed', resign = false): MemberRecord | null {
    const r = this._records.get(address.key)
    if (r === undefined) return null
    const current = r.decision === null ? -1 : STATUS_RANK[r.decision.status]
    if (STATUS_RANK[status] < current || (STATUS_RANK[status] === current && !resign)) return null
    const by = this.self.toString()
    const decision: StatusDecision = { status, by, signature: this.keys.sign(decisionBytes(by, subjectOf(r), status)) }
    const next: MemberRecord = { ...r, decision, status: effectiveStatus(r.ownStatus, decision) }
    this._records.set(address.key, next)
    this._dirty()
    return next
  }

  forget(address: NodeAddress): void {
    if (!address.equals(this.self) && this._records.delete(address.key)) this._dirty()
  }

  /**
   * Members that some member this node still hears from cannot reach, at the version of the
   * record it has now (a newer one refutes the observation). Observations made by members this
   * node itself cannot reach are not counted: on the far side of a partition they would otherwise
   * mark everyone unreachable.
   */
  unreachableSet(): Set<string> {
    if (this._unreachable !== null) return this._unreachable
    const own = new Set(this.own.unreachable.map((o) => keyOf(o.address)))
    const out = new Set<string>(own)
    for (const r of this._records.values()) {
      if (r.address.equals(this.self) || own.has(r.address.key) || r.status === 'down' || r.status === 'removed') continue
      for (const o of r.unreachable) {
        const key = keyOf(o.address)
        if (key === r.address.key) continue
        const subject = this._records.get(key)
        if (subject !== undefined && o.version < subject.version) continue
        out.add(key)
      }
    }
    out.delete(this.self.key)
    this._unreachable = out
    return out
  }

  /** Whether some member (other than this node) says it cannot reach this node as it is now. */
  accused(): boolean {
    const self = this.self.key
    const own = this.own
    for (const r of this._records.values()) {
      if (r.address.key === self || r.status === 'down' || r.status === 'removed') continue
      for (const o of r.unreachable) if (o.version >= own.version && keyOf(o.address) === self) return true
    }
    return false
  }

  /**
   * The lowest address among reachable up members; failing that leaving ones, and joining ones
   * while nobody is up yet (so a new cluster can start).
   */
  leader(): NodeAddress | null {
    const unreachable = this.unreachableSet()
    const pick = (statuses: MemberStatus[]) => {
      let best: NodeAddress | null = null
      for (const r of this._records.values()) {
        if (!statuses.includes(r.status) || unreachable.has(r.address.key)) continue
        if (best === null || r.address.key < best.key) best = r.address
      }
      return best
    }
    return pick(['up']) ?? pick(['leaving']) ?? pick(['joining'])
  }

  members(): Member[] {
    const unreachable = this.unreachableSet()
    return [...this._records.values()]
      .map((r) => ({
        address: r.address,
        incarnation: r.incarnation,
        status: r.status,
        roles: [...r.roles],
        reachable: !unreachable.has(r.address.key)
      }))
      .sort((a, b) => (a.address.key < b.address.key ? -1 : a.address.key > b.address.key ? 1 : 0))
  }

  /**
   * Whether `by` may decide statuses now, in this node's view: it is the member leader() picks,
   * ignoring members it cannot reach: the lowest up one; with none up, the lowest leaving one;
   * with none of those, the lowest joining one, and then only to decide itself up.
   */
  mayDecide(by: NodeAddress, subject: NodeAddress, status: MemberStatus, incoming: { status: MemberStatus } | null = null): boolean {
    // A member deciding itself up may arrive in the very record the decision is about.
    const leader = by.equals(this.self) ? this.own : (this._records.get(by.key) ?? (by.equals(subject) ? incoming : null))
    if (leader === null || leader === undefined) return false
    const rank = LEAD_RANK[leader.status]
    if (rank === undefined) return false
    // A joining leader (nobody up yet) decides nothing but itself up.
    if (leader.status === 'joining' && !(by.equals(subject) && status === 'up')) return false
    const unreachable = this.unreachableSet()
    for (const r of this._records.values()) {
      if (r.address.key === by.key || unreachable.has(r.address.key)) continue
      const other = LEAD_RANK[r.status]
      if (other === undefined) continue
      // Someone picked before it: a higher tier, or the same tier at a lower address.
      if (other > rank || (other === rank && r.address.key < by.key)) return false
    }
    return true
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
    if (address.equals(this.self)) {
      if (!this.observer) this._mergeOwn(d, result, refuse, final)
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
    if (mine === undefined && this._records.size >= this.maxMembers) {
      result.refused.push({ address: address.toString(), error: ClusterError.MEMBERSHIP_FULL(`${this.maxMembers} members already`), forged: false })
      return true
    }
    const ownerNewer = fresh || compareOwner(d, mine!) > 0
    if (ownerNewer && !verifyRecord({ ...d }, d.signature)) return refuse(`${address.toString()}: the owner's signature does not check`, true)
    if (!ownerNewer && mine !== undefined && d.incarnation < mine.incarnation) return true

    let vouch = ownerNewer ? (mine !== undefined && sameKey && mine.incarnation === d.incarnation ? mine.vouch : null) : mine!.vouch
    if (vouch === null) {
      if (direct && !this.observer) vouch = this._vouch(address, d)
      else if (d.vouch !== null) {
        const checked = this._checkVouch(address, d, d.vouch)
        if (checked === 'unknown' && !final) return false
        if (checked === 'bad') return refuse(`${address.toString()}: the vouch does not check`, checked === 'bad')
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
    const own = this.own
    if (d.incarnation !== own.incarnation || !bytesEqual(d.key, own.key)) return // a previous life, or a forgery of one
    if (compareOwner(d, own) > 0 && !verifyRecord({ ...d }, d.signature)) {
      refuse(`a record of this node that it did not sign`, true)
      return
    }
    if (d.decision === null) return
    const checked = this._checkDecision(this.self, d, d.decision, own.decision)
    if (checked === 'bad' || (checked === 'unknown' && final)) {
      if (checked === 'bad') refuse(`a decision about this node that does not check`, true)
      return
    }
    if (checked !== 'ok') return
    const next: MemberRecord = { ...own, decision: { ...d.decision, signature: copy(d.decision.signature) }, status: effectiveStatus(own.ownStatus, d.decision) }
    this._records.set(this.self.key, next)
    result.changes.push({ type: 'updated', record: next, previous: own })
  }

  private _knownSigner(e: Endorsement | null): boolean {
    if (e === null) return false
    const by = parseOrNull(e.by)
    return by !== null && (by.equals(this.self) || this._records.has(by.key))
  }

  private _vouch(address: NodeAddress, d: GossipDelta): Endorsement {
    const by = this.self.toString()
    return { by, signature: this.keys.sign(vouchBytes(by, { address: address.toString(), key: d.key, incarnation: d.incarnation })) }
  }

  private _checkVouch(address: NodeAddress, d: GossipDelta, v: Endorsement): 'ok' | 'bad' | 'unknown' {
    const by = parseOrNull(v.by)
    if (by === null || by.equals(address)) return 'bad'
    const voucher = by.equals(this.self) ? this.own : this._records.get(by.key)
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
      if (rank === heldRank && (held.by === decision.by || !this.mayDecide(by, address, decision.status))) return 'skip'
    }
    const signer = by.equals(address) ? { key: d.key } : by.equals(this.self) ? this.own : this._records.get(by.key)
    if (signer === undefined) return 'unknown'
    const subject: Subject = { address: address.toString(), key: d.key, incarnation: d.incarnation }
    if (!verifyDecision(signer.key, decision.by, subject, decision.status, decision.signature)) return 'bad'
    if (this.mayDecide(by, address, decision.status, d)) return 'ok'
    const current = effectiveStatus(d.status, held)
    if (by.equals(address)) {
      // A first member deciding itself up, while nobody else was up to do it: when it decided,
      // its view held no one else, whatever this view holds now.
      return decision.status === 'up' ? 'ok' : 'unknown'
    }
    // Decided by a member that led when it decided but does not lead in this view (views differ
    // while the leader changes): only the steps any leader takes unasked are taken from it, a
    // joiner up and a leaving or downed member out. Downing needs the leader of this view.
    const leader = by.equals(this.self) ? this.own : this._records.get(by.key)
    const active = leader !== undefined && (leader.status === 'up' || leader.status === 'leaving')
    const routine = decision.status === 'up' || (decision.status === 'removed' && (current === 'leaving' || current === 'down'))
    return active && routine ? 'ok' : 'unknown'
  }



  private _signed(r: MemberRecord): MemberRecord {
    const signature = signRecord(this.keys, { ...r, address: r.address.toString(), status: r.ownStatus })
    return { ...r, signature }
  }

  private _dirty(): void {
    this._lines = null
    this._unreachable = null
  }

  private _digestLines(): Uint8Array {
    if (this._lines !== null) return this._lines
    const lines = [...this._records.values()].map((r) => `${r.address.key}|${r.incarnation}|${r.version}|${r.status}\n`).sort()
    const bytes = b4a.from(lines.join(''), 'utf8')
    this._lines = bytes
    return bytes
  }
}

/** >0 when a is newer than b. */
export function compareRecords(
  a: { incarnation: number; version: number; status: MemberStatus },
  b: { incarnation: number; version: number; status: MemberStatus }
): number {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation ? 1 : -1
  if (a.version !== b.version) return a.version > b.version ? 1 : -1
  return STATUS_RANK[a.status] - STATUS_RANK[b.status]
}

// >0 when the owner's part of a is newer than b's.
function compareOwner(a: { incarnation: number; version: number }, b: { incarnation: number; version: number }): number {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation ? 1 : -1
  return a.version - b.version
}

export function effectiveStatus(own: MemberStatus, decision: StatusDecision | null): MemberStatus {
  if (decision === null) return own
  return STATUS_RANK[decision.status] > STATUS_RANK[own] ? decision.status : own
}

export function toDelta(r: MemberRecord): GossipDelta {
  return {
    address: r.address.toString(),
    incarnation: r.incarnation,
    version: r.version,
    status: r.ownStatus,
    roles: r.roles,
    unreachable: r.unreachable,
    key: r.key,
    signature: r.signature,
    vouch: r.vouch,
    decision: r.decision
  }
}

function subjectOf(r: MemberRecord): Subject {
  return { address: r.address.toString(), key: r.key, incarnation: r.incarnation }
}

// What in a record no honest node would ever write.
function outOfRange(d: GossipDelta): string | null {
  if (!Number.isSafeInteger(d.version) || d.version < 1 || d.version > MAX_VERSION) return `version ${d.version} out of range`
  if (!Number.isSafeInteger(d.incarnation) || d.incarnation > MAX_INCARNATION) return `incarnation ${d.incarnation} out of range`
  if (!OWNER_STATUSES.includes(d.status)) return `an owner cannot say it is ${d.status}`
  if (d.decision !== null && !DECIDED_STATUSES.includes(d.decision.status)) return `a leader cannot decide ${d.decision.status}`
  for (const o of d.unreachable) if (!Number.isSafeInteger(o.version) || o.version > MAX_VERSION) return `observation version ${o.version} out of range`
  return null
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b)
}

// Addresses in gossip come from other nodes: one that does not parse is skipped, not fatal.
function parseOrNull(address: string): NodeAddress | null {
  try {
    return NodeAddress.parse(address)
  } catch {
    return null
  }
}

// Map key of an address string from an observation list (unparseable ones match nothing).
const keys = new Map<string, string>()

function keyOf(address: string): string {
  let key = keys.get(address)
  if (key === undefined) {
    key = parseOrNull(address)?.key ?? '!' + address
    if (keys.size > 10_000) keys.clear()
    keys.set(address, key)
  }
  return key
}
