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
  REFUSED: 5,
  HANDED_OVER: 6
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

/**
 * An old owner to the new owner of shards: everything it held for them has been sent on before
 * this, so the new owner may now deliver what came from other nodes meanwhile.
 */
export interface ShardsHandedOver {
  tag: typeof SHARDING_TAG.HANDED_OVER
  type: string
  shards: number[]
}

/** The leader to a node whose settings disagree with the cluster's. */
export interface ShardingRefused {
  tag: typeof SHARDING_TAG.REFUSED
  numberOfShards: number
  reason: string
}

export type ShardingMessage = EntityEnvelope | ShardingReport | ShardAllocation | ShardStopped | ShardingRefused | ShardsHandedOver

const L = SHARDING_LIMITS

export function encodeShardingMessage(m: ShardingMessage): Uint8Array {
  const state: State = { start: 0, end: 1, buffer: EMPTY }
  try {
    fields(PRE, state, m)
  } catch (err) {
    if (err instanceof ClusterError) throw ClusterError.BAD_MESSAGE(err.message.replace(/^BAD_FRAME: /, ''), err)
    throw err
  }
  state.buffer = b4a.allocUnsafe(state.end)
  state.buffer[0] = m.tag
  state.start = 1
  fields(ENC, state, m)
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

// Encoding is two passes over the same fields: one that sizes (and checks limits), one that
// writes. Each message's fields are listed once, in `fields`, for both.
interface Pass {
  uint(state: State, n: number): void
  string(state: State, s: string, max: number, what: string): void
  bytes(state: State, b: Uint8Array, max: number, what: string): void
  flag(state: State, b: boolean): void
  uints(state: State, list: number[]): void
}

const PRE: Pass = {
  uint: preUint,
  string: preString,
  bytes: preBytes,
  flag: (state) => {
    state.end++
  },
  uints: (state, list) => {
    preUint(state, list.length)
    for (const n of list) preUint(state, n)
  }
}

const ENC: Pass = {
  uint: encUint,
  string: (state, s) => encString(state, s),
  bytes: (state, b) => encBytes(state, b),
  flag: (state, b) => {
    state.buffer[state.start++] = b ? 1 : 0
  },
  uints: (state, list) => {
    encUint(state, list.length)
    for (const n of list) encUint(state, n)
  }
}

function fields(p: Pass, state: State, m: ShardingMessage): void {
  switch (m.tag) {
    case SHARDING_TAG.ENVELOPE:
      p.string(state, m.type, L.maxTypeName, 'a type name')
      p.string(state, m.entityId, L.maxEntityId, 'an entity id')
      p.uint(state, m.hops)
      p.string(state, m.sender ?? '', L.maxPath, 'a sender path')
      p.string(state, m.manifest, L.maxManifest, 'a manifest')
      p.bytes(state, m.body, L.maxBody, 'a body')
      return
    case SHARDING_TAG.REPORT:
      p.uint(state, m.numberOfShards)
      p.uint(state, m.version)
      p.flag(state, m.leaving)
      p.uint(state, m.types.length)
      for (const t of m.types) {
        p.string(state, t.name, L.maxTypeName, 'a type name')
        p.flag(state, t.host)
        p.uints(state, t.shards)
      }
      return
    case SHARDING_TAG.ALLOCATION:
      p.uint(state, m.version)
      p.uint(state, m.numberOfShards)
      p.uint(state, m.nodes.length)
      for (const n of m.nodes) p.string(state, n, L.maxPath, 'a node address')
      p.uint(state, m.types.length)
      for (const t of m.types) {
        p.string(state, t.name, L.maxTypeName, 'a type name')
        p.uints(state, t.owners)
      }
      return
    case SHARDING_TAG.SHARD_STOPPED:
    case SHARDING_TAG.HANDED_OVER:
      p.string(state, m.type, L.maxTypeName, 'a type name')
      p.uints(state, m.shards)
      return
    case SHARDING_TAG.REFUSED:
      p.uint(state, m.numberOfShards)
      p.string(state, m.reason, L.maxReason, 'a reason')
      return
  }
  throw ClusterError.BAD_MESSAGE(`no sharding message has tag ${String((m as { tag: unknown }).tag)}`)
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
    case SHARDING_TAG.SHARD_STOPPED:
    case SHARDING_TAG.HANDED_OVER: {
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
