// The membership view one node holds, and how it merges what others tell it. Pure: no timers,
// no sockets. Records are ordered by (incarnation, version, status rank); gossip exchanges a
// digest of those and the records the other side lacks (scuttlebutt).
//
// Who writes what: a node writes its own record (joining, leaving, its roles, and the members it
// currently cannot reach); the leader writes other members' status (up, down, removed). When both
// wrote the same version, the higher status wins everywhere, and the owner re-asserts what it
// observes on top of it with a newer version.

import { NodeAddress } from '../node-address.ts'
import type { GossipDelta, GossipDigestEntry, MemberStatus } from '../wire/index.ts'

export const STATUS_RANK: Record<MemberStatus, number> = { joining: 0, up: 1, leaving: 2, down: 3, removed: 4 }

export interface MemberRecord {
  address: NodeAddress
  incarnation: number
  version: number
  status: MemberStatus
  roles: string[]
  /** Members this member currently cannot reach (its own observations). */
  unreachable: string[]
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

export class Membership {
  readonly self: NodeAddress
  /** An observer (a client-only node) follows the members' records but has none of its own. */
  readonly observer: boolean
  private _records: Map<string, MemberRecord>
  private _observerRecord: MemberRecord

  constructor(self: NodeAddress, incarnation: number, roles: string[], opts: { observer?: boolean } = {}) {
    this.self = self
    this.observer = opts.observer === true
    this._records = new Map()
    this._observerRecord = { address: self, incarnation, version: 1, status: 'joining', roles: [...roles], unreachable: [] }
    if (!this.observer) this._records.set(self.key, this._observerRecord)
  }

  get own(): MemberRecord {
    return this._records.get(this.self.key) ?? this._observerRecord
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
   * FNV-1a (32 bits) of the digest in address order: equal summaries mean equal views, so a
   * gossip round between two converged nodes carries this number and nothing else.
   */
  summary(): number {
    const lines = [...this._records.values()]
      .map((r) => `${r.address.key}|${r.incarnation}|${r.version}|${r.status}\n`)
      .sort()
    let h = 0x811c9dc5
    for (const line of lines) {
      for (let i = 0; i < line.length; i++) {
        h ^= line.charCodeAt(i) & 0xff
        h = Math.imul(h, 0x01000193) >>> 0
      }
    }
    return h >>> 0
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
        wanted.push(entry)
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
   * Merges records from gossip; returns what changed. Records about this node are not taken
   * as they are: the node re-asserts its own observations over them (see updateOwn).
   */
  merge(deltas: GossipDelta[]): Change[] {
    const changes: Change[] = []
    for (const d of deltas) {
      const address = parseOrNull(d.address)
      if (address === null) continue
      const incoming: MemberRecord = {
        address,
        incarnation: d.incarnation,
        version: d.version,
        status: d.status,
        roles: [...d.roles],
        unreachable: [...d.unreachable]
      }
      const mine = this._records.get(address.key)
      if (address.equals(this.self)) {
        if (!this.observer) this._mergeOwn(incoming, changes)
        continue
      }
      if (mine === undefined) {
        this._records.set(address.key, incoming)
        changes.push({ type: 'new', record: incoming })
      } else if (compareRecords(mine, incoming) < 0) {
        this._records.set(address.key, incoming)
        changes.push({ type: incoming.incarnation > mine.incarnation ? 'replaced' : 'updated', record: incoming, previous: mine })
      }
    }
    return changes
  }

  /** This node changes its own record: a new version everyone will take. */
  updateOwn(change: Partial<Pick<MemberRecord, 'status' | 'roles' | 'unreachable'>>): MemberRecord {
    const own = this.own
    const next: MemberRecord = {
      ...own,
      ...change,
      status: change.status !== undefined && STATUS_RANK[change.status] > STATUS_RANK[own.status] ? change.status : own.status,
      version: own.version + 1
    }
    if (this.observer) this._observerRecord = next
    else this._records.set(this.self.key, next)
    return next
  }

  /** The leader changes another member's status (never lowers it). */
  setStatus(address: NodeAddress, status: MemberStatus): MemberRecord | null {
    const r = this._records.get(address.key)
    if (r === undefined || STATUS_RANK[status] <= STATUS_RANK[r.status]) return null
    const next = { ...r, status, version: r.version + 1 }
    this._records.set(address.key, next)
    return next
  }

  forget(address: NodeAddress): void {
    if (!address.equals(this.self)) this._records.delete(address.key)
  }

  /**
   * Members that some member this node still hears from cannot reach. Observations made by members
   * this node itself cannot reach are not counted: on the far side of a partition they would
   * otherwise mark everyone unreachable.
   */
  unreachableSet(): Set<string> {
    const own = new Set(this.own.unreachable.map(keyOf))
    const out = new Set<string>(own)
    for (const r of this._records.values()) {
      if (r.address.equals(this.self) || own.has(r.address.key) || r.status === 'down' || r.status === 'removed') continue
      for (const address of r.unreachable) {
        const key = keyOf(address)
        if (key !== r.address.key) out.add(key)
      }
    }
    out.delete(this.self.key)
    return out
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

  private _mergeOwn(incoming: MemberRecord, changes: Change[]): void {
    const own = this.own
    if (incoming.incarnation !== own.incarnation) return // a previous life of this node
    if (compareRecords(own, incoming) >= 0) return
    // Someone (the leader) moved this node's status on: take the status, keep our observations,
    // and publish above their version.
    const next: MemberRecord = {
      ...own,
      status: STATUS_RANK[incoming.status] > STATUS_RANK[own.status] ? incoming.status : own.status,
      version: Math.max(own.version, incoming.version) + 1
    }
    this._records.set(this.self.key, next)
    changes.push({ type: 'updated', record: next, previous: own })
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

export function toDelta(r: MemberRecord): GossipDelta {
  return {
    address: r.address.toString(),
    incarnation: r.incarnation,
    version: r.version,
    status: r.status,
    roles: r.roles,
    unreachable: r.unreachable
  }
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
