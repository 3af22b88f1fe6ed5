// A member record and what is true of records whatever view holds them: their order, the
// status they add up to, the bounds no honest node crosses, and the helpers for addresses and
// bytes that come from other nodes.

import { NodeAddress } from '../node-address.ts'
import type { Endorsement, GossipDelta, MemberStatus, Observation, StatusDecision } from '../wire/index.ts'
import type { ClusterError } from '../errors.ts'
import type { Subject } from './record-signing.ts'

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
export function compareOwner(a: { incarnation: number; version: number }, b: { incarnation: number; version: number }): number {
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

export function subjectOf(r: MemberRecord): Subject {
  return { address: r.address.toString(), key: r.key, incarnation: r.incarnation }
}

// What in a record no honest node would ever write.
export function outOfRange(d: GossipDelta): string | null {
  if (!Number.isSafeInteger(d.version) || d.version < 1 || d.version > MAX_VERSION) return `version ${d.version} out of range`
  if (!Number.isSafeInteger(d.incarnation) || d.incarnation > MAX_INCARNATION) return `incarnation ${d.incarnation} out of range`
  if (!OWNER_STATUSES.includes(d.status)) return `an owner cannot say it is ${d.status}`
  if (d.decision !== null && !DECIDED_STATUSES.includes(d.decision.status)) return `a leader cannot decide ${d.decision.status}`
  for (const o of d.unreachable) if (!Number.isSafeInteger(o.version) || o.version > MAX_VERSION) return `observation version ${o.version} out of range`
  return null
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

export function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b)
}

// Addresses in gossip come from other nodes: one that does not parse is skipped, not fatal.
export function parseOrNull(address: string): NodeAddress | null {
  try {
    return NodeAddress.parse(address)
  } catch {
    return null
  }
}

// Map key of an address string from an observation list (unparseable ones match nothing).
const keys = new Map<string, string>()

export function keyOf(address: string): string {
  let key = keys.get(address)
  if (key === undefined) {
    key = parseOrNull(address)?.key ?? '!' + address
    if (keys.size > 10_000) keys.clear()
    keys.set(address, key)
  }
  return key
}
