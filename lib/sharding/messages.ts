// The sharding layer's own messages. They ride `subsystem` messages on channel `sharding`, each
// body one tag byte and the fields of that message (see docs/wire.md). Decoding treats the bytes
// as hostile: every string, list and number of shards is capped, and a failure is BAD_MESSAGE.

import b4a from 'b4a'
import { ClusterError } from '../errors.ts'
import {
  decBytes,
  decByte,
  decCount,
  decString,
  decUint,
  encBytes,
  encString,
  encUint,
  preBytes,
  preString,
  preUint,
  type State
} from '../wire/primitives.ts'

export const SHARDING_CHANNEL = 'sharding'

export const SHARDING_LIMITS = {
  maxTypeName: 64,
  maxEntityId: 512,
  maxPath: 2048,
  maxManifest: 256,
  maxShards: 65_536,
  maxTypes: 64,
  maxNodes: 1024,
  maxReason: 512,
  maxBody: 16 * 1024 * 1024
} as const

export const SHARDING_TAG = {
  ENVELOPE: 1,
  REPORT: 2,
  ALLOCATION: 3,
  SHARD_STOPPED: 4,
  REFUSED: 5
} as const

/** A message to an entity, from the node that sent it or a node passing it on. */
export interface EntityEnvelope {
  tag: typeof SHARDING_TAG.ENVELOPE
  type: string
  entityId: string
  /** Times it was passed on by a node that does not own the shard. */
  hops: number
  /** The full actor address of the sender, or null. */
  sender: string | null
  manifest: string
  body: Uint8Array
}

export interface TypeReport {
  name: string
  /** Registered here, and this node has the type's role (if any). */
  host: boolean
  /** Shards of the type with entities live or stopping here. */
  shards: number[]
}

/**
 * Every node tells the leader what it can host and hosts, now and then and whenever that changes.
 */
export interface ShardingReport {
  tag: typeof SHARDING_TAG.REPORT
  numberOfShards: number
  /** The allocation version this node has. */
  version: number
  /** Set while the node is handing its shards off before leaving. */
  leaving: boolean
  types: TypeReport[]
}

export interface TypeAllocation {
  name: string
  /**
   * For each shard, 0 (no owner: unallocated or in handoff) or 1 + the owner's index in `nodes`.
   */
  owners: number[]
}

/** The leader's allocation, spread to every node that reports. */
export interface ShardAllocation {
  tag: typeof SHARDING_TAG.ALLOCATION
  version: number
  numberOfShards: number
  nodes: string[]
  types: TypeAllocation[]
}

/** An old owner to the leader: it has stopped these shards' entities. */
export interface ShardStopped {
  tag: typeof SHARDING_TAG.SHARD_STOPPED
  type: string
  shards: number[]
}

/** The leader to a node whose settings disagree with the cluster's. */
export interface ShardingRefused {
  tag: typeof SHARDING_TAG.REFUSED
  numberOfShards: number
  reason: string
}

export type ShardingMessage = EntityEnvelope | ShardingReport | ShardAllocation | ShardStopped | ShardingRefused

const L = SHARDING_LIMITS

export function encodeShardingMessage(m: ShardingMessage): Uint8Array {
  const state: State = { start: 0, end: 1, buffer: EMPTY }
  try {
    preMessage(state, m)
  } catch (err) {
    if (err instanceof ClusterError) throw ClusterError.BAD_MESSAGE(err.message.replace(/^BAD_FRAME: /, ''), err)
    throw err
  }
  state.buffer = b4a.allocUnsafe(state.end)
  state.buffer[0] = m.tag
  state.start = 1
  encMessage(state, m)
  return state.buffer
}

export function decodeShardingMessage(bytes: Uint8Array): ShardingMessage {
  const state: State = { start: 0, end: bytes.byteLength, buffer: bytes }
  try {
    const m = decMessage(state)
    if (state.start !== state.end) throw ClusterError.BAD_FRAME('bytes after the end of a sharding message')
    return m
  } catch (err) {
    if (err instanceof ClusterError && err.code === 'BAD_FRAME') throw ClusterError.BAD_MESSAGE(err.message.slice('BAD_FRAME: '.length), err)
    throw err
  }
}

// The entity envelope on the hot path: the tag, type and id of one entity encoded once (its
// head), then per message only the rest, with one state reused and no message object.
const envelopeState: State = { start: 0, end: 0, buffer: new Uint8Array(0) }

export function encodeEnvelopeHead(type: string, entityId: string): Uint8Array {
  const state: State = { start: 0, end: 1, buffer: EMPTY }
  try {
    preString(state, type, L.maxTypeName, 'a type name')
    preString(state, entityId, L.maxEntityId, 'an entity id')
  } catch (err) {
    if (err instanceof ClusterError) throw ClusterError.BAD_MESSAGE(err.message.replace(/^BAD_FRAME: /, ''), err)
    throw err
  }
  state.buffer = b4a.alloc(state.end)
  state.buffer[0] = SHARDING_TAG.ENVELOPE
  state.start = 1
  encString(state, type)
  encString(state, entityId)
  return state.buffer
}

export function encodeEntityEnvelope(head: Uint8Array, hops: number, sender: string | null, manifest: string, body: Uint8Array): Uint8Array {
  // A tell with no sender in the default format, the commonest, is written by hand.
  const n = body.byteLength
  if (hops === 0 && sender === null && manifest === '' && n < 0xfd && body instanceof Uint8Array) {
    const h = head.byteLength
    const out = b4a.allocUnsafe(h + 4 + n)
    for (let i = 0; i < h; i++) out[i] = head[i]!
    out[h] = 0 // hops
    out[h + 1] = 0 // no sender
    out[h + 2] = 0 // the default manifest
    out[h + 3] = n
    if (n <= 64) for (let i = 0; i < n; i++) out[h + 4 + i] = body[i]!
    else out.set(body, h + 4)
    return out
  }
  const state = envelopeState
  state.start = 0
  state.end = head.byteLength
  try {
    preUint(state, hops)
    preString(state, sender ?? '', L.maxPath, 'a sender path')
    preString(state, manifest, L.maxManifest, 'a manifest')
    preBytes(state, body, L.maxBody, 'a body')
  } catch (err) {
    if (err instanceof ClusterError) throw ClusterError.BAD_MESSAGE(err.message.replace(/^BAD_FRAME: /, ''), err)
    throw err
  }
  const buffer = b4a.allocUnsafe(state.end)
  state.buffer = buffer
  buffer.set(head, 0)
  state.start = head.byteLength
  encUint(state, hops)
  encString(state, sender ?? '')
  encString(state, manifest)
  encBytes(state, body)
  state.buffer = EMPTY
  return buffer
}

function preMessage(state: State, m: ShardingMessage): void {
  switch (m.tag) {
    case SHARDING_TAG.ENVELOPE:
      preString(state, m.type, L.maxTypeName, 'a type name')
      preString(state, m.entityId, L.maxEntityId, 'an entity id')
      preUint(state, m.hops)
      preString(state, m.sender ?? '', L.maxPath, 'a sender path')
      preString(state, m.manifest, L.maxManifest, 'a manifest')
      preBytes(state, m.body, L.maxBody, 'a body')
      return
    case SHARDING_TAG.REPORT:
      preUint(state, m.numberOfShards)
      preUint(state, m.version)
      state.end++
      preUint(state, m.types.length)
      for (const t of m.types) {
        preString(state, t.name, L.maxTypeName, 'a type name')
        state.end++
        preUints(state, t.shards)
      }
      return
    case SHARDING_TAG.ALLOCATION:
      preUint(state, m.version)
      preUint(state, m.numberOfShards)
      preUint(state, m.nodes.length)
      for (const n of m.nodes) preString(state, n, L.maxPath, 'a node address')
      preUint(state, m.types.length)
      for (const t of m.types) {
        preString(state, t.name, L.maxTypeName, 'a type name')
        preUints(state, t.owners)
      }
      return
    case SHARDING_TAG.SHARD_STOPPED:
      preString(state, m.type, L.maxTypeName, 'a type name')
      preUints(state, m.shards)
      return
    case SHARDING_TAG.REFUSED:
      preUint(state, m.numberOfShards)
      preString(state, m.reason, L.maxReason, 'a reason')
      return
  }
  throw ClusterError.BAD_MESSAGE(`no sharding message has tag ${String((m as { tag: unknown }).tag)}`)
}

function encMessage(state: State, m: ShardingMessage): void {
  switch (m.tag) {
    case SHARDING_TAG.ENVELOPE:
      encString(state, m.type)
      encString(state, m.entityId)
      encUint(state, m.hops)
      encString(state, m.sender ?? '')
      encString(state, m.manifest)
      encBytes(state, m.body)
      return
    case SHARDING_TAG.REPORT:
      encUint(state, m.numberOfShards)
      encUint(state, m.version)
      state.buffer[state.start++] = m.leaving ? 1 : 0
      encUint(state, m.types.length)
      for (const t of m.types) {
        encString(state, t.name)
        state.buffer[state.start++] = t.host ? 1 : 0
        encUints(state, t.shards)
      }
      return
    case SHARDING_TAG.ALLOCATION:
      encUint(state, m.version)
      encUint(state, m.numberOfShards)
      encUint(state, m.nodes.length)
      for (const n of m.nodes) encString(state, n)
      encUint(state, m.types.length)
      for (const t of m.types) {
        encString(state, t.name)
        encUints(state, t.owners)
      }
      return
    case SHARDING_TAG.SHARD_STOPPED:
      encString(state, m.type)
      encUints(state, m.shards)
      return
    case SHARDING_TAG.REFUSED:
      encUint(state, m.numberOfShards)
      encString(state, m.reason)
  }
}

function decMessage(state: State): ShardingMessage {
  const tag = decByte(state)
  switch (tag) {
    case SHARDING_TAG.ENVELOPE: {
      const type = decString(state, L.maxTypeName, 'a type name')
      const entityId = decString(state, L.maxEntityId, 'an entity id')
      const hops = decUint(state)
      const sender = decString(state, L.maxPath, 'a sender path')
      const manifest = decString(state, L.maxManifest, 'a manifest')
      const body = decBytes(state, L.maxBody, 'a body')
      return { tag, type, entityId, hops, sender: sender === '' ? null : sender, manifest, body }
    }
    case SHARDING_TAG.REPORT: {
      const numberOfShards = decShardCount(state)
      const version = decUint(state)
      const leaving = decFlag(state)
      const n = decCount(state, L.maxTypes, 'types')
      const types: TypeReport[] = []
      for (let i = 0; i < n; i++) {
        const name = decString(state, L.maxTypeName, 'a type name')
        const host = decFlag(state)
        const shards = decUints(state, L.maxShards, numberOfShards - 1, 'shards')
        types.push({ name, host, shards })
      }
      return { tag, numberOfShards, version, leaving, types }
    }
    case SHARDING_TAG.ALLOCATION: {
      const version = decUint(state)
      const numberOfShards = decShardCount(state)
      const nodeCount = decCount(state, L.maxNodes, 'nodes')
      const nodes: string[] = []
      for (let i = 0; i < nodeCount; i++) nodes.push(decString(state, L.maxPath, 'a node address'))
      const n = decCount(state, L.maxTypes, 'types')
      const types: TypeAllocation[] = []
      for (let i = 0; i < n; i++) {
        const name = decString(state, L.maxTypeName, 'a type name')
        const owners = decUints(state, numberOfShards, nodeCount, 'owners')
        if (owners.length !== numberOfShards) throw ClusterError.BAD_FRAME(`an allocation of ${owners.length} shards out of ${numberOfShards}`)
        types.push({ name, owners })
      }
      return { tag, version, numberOfShards, nodes, types }
    }
    case SHARDING_TAG.SHARD_STOPPED: {
      const type = decString(state, L.maxTypeName, 'a type name')
      const shards = decUints(state, L.maxShards, L.maxShards - 1, 'shards')
      return { tag, type, shards }
    }
    case SHARDING_TAG.REFUSED: {
      const numberOfShards = decShardCount(state)
      const reason = decString(state, L.maxReason, 'a reason')
      return { tag, numberOfShards, reason }
    }
  }
  throw ClusterError.BAD_FRAME(`no sharding message has tag ${tag}`)
}

function preUints(state: State, list: number[]): void {
  preUint(state, list.length)
  for (const n of list) preUint(state, n)
}

function encUints(state: State, list: number[]): void {
  encUint(state, list.length)
  for (const n of list) encUint(state, n)
}

function decUints(state: State, maxCount: number, maxValue: number, what: string): number[] {
  const n = decCount(state, maxCount, what)
  const out: number[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const v = decUint(state)
    if (v > maxValue) throw ClusterError.BAD_FRAME(`${what}: ${v} is more than ${maxValue}`)
    out[i] = v
  }
  return out
}

function decShardCount(state: State): number {
  const n = decUint(state)
  if (n < 1 || n > L.maxShards) throw ClusterError.BAD_FRAME(`${n} shards, not 1 to ${L.maxShards}`)
  return n
}

function decFlag(state: State): boolean {
  const b = decByte(state)
  if (b > 1) throw ClusterError.BAD_FRAME(`a flag of ${b}`)
  return b === 1
}

const EMPTY = new Uint8Array(0)
