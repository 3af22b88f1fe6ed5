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
import type { NodeAddress } from '../node-address.ts'
import type { GossipDelta, GossipDigestEntry, MemberStatus, StatusDecision } from '../wire/index.ts'
import {
  DEFAULT_MAX_MEMBERS,
  STATUS_RANK,
  SUMMARY_BYTES,
  compareRecords,
  effectiveStatus,
  keyOf,
  parseOrNull,
  subjectOf,
  toDelta,
  type Member,
  type MemberRecord,
  type MergeResult
} from './member-record.ts'
import { RecordMerge } from './record-merge.ts'
import { decisionBytes, signRecord, type SigningKeyPair } from './record-signing.ts'

export {
  DEFAULT_MAX_MEMBERS,
  MAX_INCARNATION,
  MAX_VERSION,
  STATUS_RANK,
  SUMMARY_BYTES,
  compareRecords,
  effectiveStatus,
  toDelta
} from './member-record.ts'
export type { Change, Member, MemberRecord, MergeResult, Refusal } from './member-record.ts'

const SUMMARY_KEY_BYTES = 8

// Who leader() picks first: up members, then leaving ones, then joining ones.
const LEAD_RANK: Partial<Record<MemberStatus, number>> = { up: 3, leaving: 2, joining: 1 }

export interface MembershipOptions {
  observer?: boolean
  /** Records kept at most, this node and tombstones included. Default 1000. */
  maxMembers?: number
  /** How many members watch each one (the cluster's monitoredMembers). Default 5. */
  monitoredMembers?: number
}

export class Membership {
  readonly self: NodeAddress
  /** An observer (a client-only node) follows the members' records but has none of its own. */
  readonly observer: boolean
  readonly maxMembers: number
  readonly monitoredMembers: number
  readonly keys: SigningKeyPair
  private _records: Map<string, MemberRecord>
  private _observerRecord: MemberRecord
  private _lines: Uint8Array | null
  private _unreachable: Set<string> | null
  private _merge: RecordMerge

  constructor(self: NodeAddress, incarnation: number, roles: string[], keys: SigningKeyPair, opts: MembershipOptions = {}) {
    this.self = self
    this.observer = opts.observer === true
    this.maxMembers = opts.maxMembers ?? DEFAULT_MAX_MEMBERS
    this.monitoredMembers = opts.monitoredMembers ?? 5
    this.keys = keys
    this._records = new Map()
    this._lines = null
    this._unreachable = null
    this._merge = new RecordMerge(this, this._records)
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
    const result = this._merge.merge(deltas, from)
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
   * Members this node cannot reach, and those that a majority of their watchers (among the up or
   * leaving members this node still hears from) cannot reach, at the version of the record it has
   * now (a newer one refutes the observation). Observations made by members this node itself
   * cannot reach are not counted: on the far side of a partition they would otherwise mark
   * everyone unreachable.
   */
  unreachableSet(): Set<string> {
    if (this._unreachable !== null) return this._unreachable
    const own = new Set(this.own.unreachable.map((o) => keyOf(o.address)))
    const out = new Set<string>(own)
    const observers = new Map<string, number>()
    let ring = 0
    for (const r of this._records.values()) {
      if (STATUS_RANK[r.status] <= STATUS_RANK.leaving) ring++
      // Only admitted members judge: a joiner's word (a record a member vouched for) counts for
      // nothing until the leader has let it in.
      if (r.address.equals(this.self) || own.has(r.address.key) || (r.status !== 'up' && r.status !== 'leaving')) continue
      for (const o of r.unreachable) {
        const key = keyOf(o.address)
        if (key === r.address.key) continue
        const subject = this._records.get(key)
        if (subject !== undefined && o.version < subject.version) continue
        observers.set(key, (observers.get(key) ?? 0) + 1)
      }
    }
    // Each member is watched by the monitoredMembers before it on the ring: a majority of those
    // must say so, so one member alone (a rogue, or a flapping link) cannot make another
    // unreachable for the rest. This node's own observations count here in any case.
    const quorum = Math.floor(Math.min(this.monitoredMembers, Math.max(ring - 1, 1)) / 2) + 1
    for (const [key, count] of observers) if (count >= quorum) out.add(key)
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
