// What is signed in membership, byte for byte: a member's own record (by its owner), a vouch (by a
// member that met the owner over a connection) and a status decision (by the leader). Each
// statement starts with its own label, so a signature over one can never pass for another.

import c from 'compact-encoding'
import { generateSigningKeyPair, verifySignature, type SigningKeyPair } from '../../backends/crypto.ts'
import type { MemberStatus, Observation } from '../wire/index.ts'
import { MEMBER_STATUSES } from '../wire/index.ts'

export type { SigningKeyPair } from '../../backends/crypto.ts'

const RECORD_LABEL = 'actor-cluster-bare/record/1'
const VOUCH_LABEL = 'actor-cluster-bare/vouch/1'
const DECISION_LABEL = 'actor-cluster-bare/decision/1'

/** The owner's part of a record. */
export interface OwnedFields {
  address: string
  key: Uint8Array
  incarnation: number
  version: number
  status: MemberStatus
  roles: string[]
  unreachable: Observation[]
}

/** Who a vouch or decision is about: one incarnation of one key at one address. */
export interface Subject {
  address: string
  key: Uint8Array
  incarnation: number
}

export function newKeyPair(): SigningKeyPair {
  return generateSigningKeyPair()
}

export function recordBytes(r: OwnedFields): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as unknown as Uint8Array }
  const write = (enc: boolean) => {
    const at = enc ? 'encode' : 'preencode'
    c.string[at](state, RECORD_LABEL)
    c.string[at](state, r.address)
    c.fixed32[at](state, r.key)
    c.uint[at](state, r.incarnation)
    c.uint[at](state, r.version)
    c.uint[at](state, statusCode(r.status))
    c.uint[at](state, r.roles.length)
    for (const role of r.roles) c.string[at](state, role)
    c.uint[at](state, r.unreachable.length)
    for (const o of r.unreachable) {
      c.string[at](state, o.address)
      c.uint[at](state, o.version)
    }
  }
  return run(state, write)
}

export function vouchBytes(by: string, s: Subject): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as unknown as Uint8Array }
  return run(state, (enc) => {
    const at = enc ? 'encode' : 'preencode'
    c.string[at](state, VOUCH_LABEL)
    c.string[at](state, by)
    subject(state, at, s)
  })
}

export function decisionBytes(by: string, s: Subject, status: MemberStatus): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as unknown as Uint8Array }
  return run(state, (enc) => {
    const at = enc ? 'encode' : 'preencode'
    c.string[at](state, DECISION_LABEL)
    c.string[at](state, by)
    subject(state, at, s)
    c.uint[at](state, statusCode(status))
  })
}

export function signRecord(keys: SigningKeyPair, r: OwnedFields): Uint8Array {
  return keys.sign(recordBytes(r))
}

export function verifyRecord(r: OwnedFields, signature: Uint8Array): boolean {
  return verifySignature(r.key, recordBytes(r), signature)
}

export function verifyVouch(byKey: Uint8Array, by: string, s: Subject, signature: Uint8Array): boolean {
  return verifySignature(byKey, vouchBytes(by, s), signature)
}

export function verifyDecision(byKey: Uint8Array, by: string, s: Subject, status: MemberStatus, signature: Uint8Array): boolean {
  return verifySignature(byKey, decisionBytes(by, s, status), signature)
}

type State = { start: number; end: number; buffer: Uint8Array }

function run(state: State, write: (enc: boolean) => void): Uint8Array {
  write(false)
  state.buffer = new Uint8Array(state.end)
  state.end = state.buffer.byteLength
  write(true)
  return state.buffer
}

function subject(state: State, at: 'encode' | 'preencode', s: Subject): void {
  c.string[at](state, s.address)
  c.fixed32[at](state, s.key)
  c.uint[at](state, s.incarnation)
}

function statusCode(s: MemberStatus): number {
  return MEMBER_STATUSES.indexOf(s)
}
