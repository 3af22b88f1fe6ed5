// The codecs of membership: heartbeats and their acks, gossip (a digest of every member's
// version and the signed records the other side lacks), and leave.

import c from 'compact-encoding'
import { ClusterError } from '../errors.ts'
import {
  LIMITS,
  MEMBER_STATUSES,
  type Endorsement,
  type GossipDelta,
  type GossipDigestEntry,
  type GossipMessage,
  type HeartbeatAckMessage,
  type HeartbeatMessage,
  type LeaveMessage,
  type MemberStatus,
  type Observation,
  type StatusDecision
} from './messages.ts'
import { stringMessage } from './one-field-codecs.ts'
import {
  decByte,
  decBytes,
  decCount,
  decFloat,
  decString,
  decUint,
  encBytes,
  encFloat,
  encString,
  encUint,
  preBytes,
  preFloat,
  preString,
  preUint,
  type Codec,
  type State
} from './primitives.ts'

const IS_REPLY = 1
const HAS_SUMMARY = 2
const HAS_VOUCH = 1
const HAS_DECISION = 2

export const heartbeat: Codec<HeartbeatMessage> = heartbeatCodec('heartbeat')
export const heartbeatAck: Codec<HeartbeatAckMessage> = heartbeatCodec('heartbeat-ack')

export const gossip: Codec<GossipMessage> = {
  preencode(state, m) {
    state.end++
    if (m.summary !== null) preFixed(state, m.summary, LIMITS.summary, 'summary')
    preList(state, m.digest, LIMITS.entries, 'digest entries', preDigestEntry)
    preList(state, m.deltas, LIMITS.entries, 'deltas', preDelta)
  },
  encode(state, m) {
    state.buffer[state.start++] = (m.reply ? IS_REPLY : 0) | (m.summary === null ? 0 : HAS_SUMMARY)
    if (m.summary !== null) encBytes(state, m.summary)
    encList(state, m.digest, encDigestEntry)
    encList(state, m.deltas, encDelta)
  },
  decode(state) {
    const flags = decByte(state)
    const summary = flags & HAS_SUMMARY ? decFixed(state, LIMITS.summary, 'summary') : null
    const digest = decList(state, LIMITS.entries, 'digest entries', decDigestEntry)
    const deltas = decList(state, LIMITS.entries, 'deltas', decDelta)
    return { kind: 'gossip', digest, deltas, reply: (flags & IS_REPLY) !== 0, summary }
  }
}

export const leave: Codec<LeaveMessage> = stringMessage('leave', 'address', LIMITS.address)

function heartbeatCodec<K extends 'heartbeat' | 'heartbeat-ack'>(kind: K): Codec<{ kind: K; seq: number; sentAt: number }> {
  return {
    preencode(state, m) {
      preUint(state, m.seq)
      preFloat(state, m.sentAt)
    },
    encode(state, m) {
      encUint(state, m.seq)
      encFloat(state, m.sentAt)
    },
    decode(state) {
      const seq = decUint(state)
      const sentAt = decFloat(state)
      return { kind, seq, sentAt }
    }
  }
}

// A list is its length, then its items; `max` caps the length both ways.
function preList<T>(state: State, list: T[], max: number, what: string, pre: (state: State, item: T) => void): void {
  if (!Array.isArray(list)) throw ClusterError.BAD_FRAME(`${what} must be an array`)
  if (list.length > max) throw ClusterError.BAD_FRAME(`${list.length} ${what}, more than ${max}`)
  c.uint.preencode(state, list.length)
  for (const item of list) pre(state, item)
}

function encList<T>(state: State, list: T[], enc: (state: State, item: T) => void): void {
  c.uint.encode(state, list.length)
  for (const item of list) enc(state, item)
}

function decList<T>(state: State, max: number, what: string, dec: (state: State) => T): T[] {
  const n = decCount(state, max, what)
  const out = new Array<T>(n)
  for (let i = 0; i < n; i++) out[i] = dec(state)
  return out
}

function preDigestEntry(state: State, e: GossipDigestEntry): void {
  preString(state, e.address, LIMITS.address, 'address')
  preUint(state, e.incarnation)
  preUint(state, e.version)
  statusCode(e.status)
  state.end++
}

function encDigestEntry(state: State, e: GossipDigestEntry): void {
  encString(state, e.address)
  encUint(state, e.incarnation)
  encUint(state, e.version)
  state.buffer[state.start++] = statusCode(e.status)
}

function decDigestEntry(state: State): GossipDigestEntry {
  const address = decString(state, LIMITS.address, 'address')
  const incarnation = decUint(state)
  const version = decUint(state)
  const status = decStatus(state)
  return { address, incarnation, version, status }
}

function statusCode(s: MemberStatus): number {
  const i = MEMBER_STATUSES.indexOf(s)
  if (i === -1) throw ClusterError.BAD_FRAME(`unknown member status ${String(s)}`)
  return i
}

function decStatus(state: State): MemberStatus {
  const code = decByte(state)
  const status = MEMBER_STATUSES[code]
  if (status === undefined) throw ClusterError.BAD_FRAME(`unknown member status ${code}`)
  return status
}

function preRole(state: State, role: string): void {
  preString(state, role, LIMITS.role, 'roles')
}

function decRole(state: State): string {
  return decString(state, LIMITS.role, 'roles')
}

function preObservation(state: State, o: Observation): void {
  preString(state, o.address, LIMITS.address, 'address')
  preUint(state, o.version)
}

function encObservation(state: State, o: Observation): void {
  encString(state, o.address)
  encUint(state, o.version)
}

function decObservation(state: State): Observation {
  const address = decString(state, LIMITS.address, 'address')
  return { address, version: decUint(state) }
}

function preFixed(state: State, b: Uint8Array, size: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.byteLength !== size) throw ClusterError.BAD_FRAME(`${what} must be ${size} bytes`)
  preBytes(state, b, size, what)
}

function decFixed(state: State, size: number, what: string): Uint8Array {
  const b = decBytes(state, size, what)
  if (b.byteLength !== size) throw ClusterError.BAD_FRAME(`${what} of ${b.byteLength} bytes, not ${size}`)
  return b
}

function preEndorsement(state: State, e: Endorsement): void {
  preString(state, e.by, LIMITS.address, 'address')
  preFixed(state, e.signature, LIMITS.signature, 'signature')
}

function encEndorsement(state: State, e: Endorsement): void {
  encString(state, e.by)
  encBytes(state, e.signature)
}

function decEndorsement(state: State): Endorsement {
  const by = decString(state, LIMITS.address, 'address')
  return { by, signature: decFixed(state, LIMITS.signature, 'signature') }
}

function preDelta(state: State, d: GossipDelta): void {
  preDigestEntry(state, d)
  preList(state, d.roles, LIMITS.roles, 'roles', preRole)
  preList(state, d.unreachable, LIMITS.observations, 'observations', preObservation)
  preFixed(state, d.key, LIMITS.key, 'key')
  preFixed(state, d.signature, LIMITS.signature, 'signature')
  state.end++
  if (d.vouch !== null) preEndorsement(state, d.vouch)
  if (d.decision !== null) {
    statusCode(d.decision.status)
    state.end++
    preEndorsement(state, d.decision)
  }
}

function encDelta(state: State, d: GossipDelta): void {
  encDigestEntry(state, d)
  encList(state, d.roles, encString)
  encList(state, d.unreachable, encObservation)
  encBytes(state, d.key)
  encBytes(state, d.signature)
  state.buffer[state.start++] = (d.vouch === null ? 0 : HAS_VOUCH) | (d.decision === null ? 0 : HAS_DECISION)
  if (d.vouch !== null) encEndorsement(state, d.vouch)
  if (d.decision !== null) {
    state.buffer[state.start++] = statusCode(d.decision.status)
    encEndorsement(state, d.decision)
  }
}

function decDelta(state: State): GossipDelta {
  const { address, incarnation, version, status } = decDigestEntry(state)
  const roles = decList(state, LIMITS.roles, 'roles', decRole)
  const unreachable = decList(state, LIMITS.observations, 'observations', decObservation)
  const key = decFixed(state, LIMITS.key, 'key')
  const signature = decFixed(state, LIMITS.signature, 'signature')
  const flags = decByte(state)
  const vouch = flags & HAS_VOUCH ? decEndorsement(state) : null
  let decision: StatusDecision | null = null
  if (flags & HAS_DECISION) {
    const decided = decStatus(state)
    decision = { status: decided, ...decEndorsement(state) }
  }
  return { address, incarnation, version, status, roles, unreachable, key, signature, vouch, decision }
}
