// The default message format: JSON-shaped values plus Uint8Array, bigint, Map, Set, Date, actor
// refs and values of registered custom types, as tagged compact-encoding (no JSON text). Every
// value is one tag byte and its fields. Decoding treats bytes as hostile: nesting, counts and the
// number of values in one message are capped, and every failure is a BAD_MESSAGE ClusterError.

import b4a from 'b4a'
import c from 'compact-encoding'
import { ClusterError } from '../errors.ts'
import { copyBytes, decBytes, decByte, decCount, decFloat, decString, decUint, type State } from '../wire/primitives.ts'

export const VALUE_LIMITS = {
  /** Arrays, objects, maps and sets inside each other. */
  maxDepth: 64,
  /** Values of any kind in one message (each costs memory on the receiver beyond its bytes). */
  maxValues: 1_000_000
} as const

const TAG = {
  NULL: 0,
  UNDEFINED: 1,
  FALSE: 2,
  TRUE: 3,
  UINT: 4,
  NEGATIVE_INT: 5,
  FLOAT: 6,
  STRING: 7,
  BYTES: 8,
  BIGINT: 9,
  ARRAY: 10,
  OBJECT: 11,
  MAP: 12,
  SET: 13,
  DATE: 14,
  REF: 15,
  CUSTOM: 16
} as const

const ANY = Number.MAX_SAFE_INTEGER

/** What the codec needs from the actor layer: how refs and custom types become bytes and back. */
export interface EncodeContext {
  /** The full path of `value` if it is an actor ref, else null. */
  refPath(value: object): string | null
  /** The manifest and bytes of `value` if a custom serializer takes it, else null. */
  custom(value: object): { manifest: string; bytes: Uint8Array } | null
}

export interface DecodeContext {
  ref(path: string): unknown
  custom(manifest: string, bytes: Uint8Array): unknown
}

// One plan serves every call (a custom serializer that encodes from inside gets its own).
let idlePlan: Plan | null = null

export function encodeValue(value: unknown, ctx: EncodeContext): Uint8Array {
  const plan = idlePlan ?? new Plan()
  idlePlan = null
  try {
    plan.reset(ctx)
    const state: State = { start: 0, end: 0, buffer: EMPTY }
    plan.pre(state, value, 0)
    state.buffer = b4a.allocUnsafe(state.end)
    plan.enc(state, value)
    return state.buffer
  } finally {
    plan.reset(NO_CONTEXT)
    idlePlan = plan
  }
}

export function decodeValue(bytes: Uint8Array, ctx: DecodeContext): unknown {
  const reader = new Reader(bytes, ctx)
  let value: unknown
  try {
    value = reader.value(0)
  } catch (err) {
    // The field decoders speak of frames; here it is a message body that is wrong.
    if (err instanceof ClusterError && err.code === 'BAD_FRAME') throw ClusterError.BAD_MESSAGE(err.message.slice('BAD_FRAME: '.length), err)
    throw err
  }
  if (reader.state.start !== reader.state.end) throw ClusterError.BAD_MESSAGE('bytes left over after the value')
  return value
}

// Encoding walks the value twice (measure, then write); what the first walk learned about refs,
// custom values and string lengths is kept in order for the second.
class Plan {
  private _ctx: EncodeContext
  private _notes: (string | number | { manifest: string; bytes: Uint8Array })[]
  private _next: number
  private _seen: Set<object>

  constructor() {
    this._ctx = NO_CONTEXT
    this._notes = []
    this._next = 0
    this._seen = new Set()
  }

  reset(ctx: EncodeContext): void {
    this._ctx = ctx
    this._notes.length = 0
    this._next = 0
    if (this._seen.size > 0) this._seen.clear()
  }

  pre(state: State, v: unknown, depth: number): void {
    state.end++
    switch (typeof v) {
      case 'string':
        preText(state, v, this._notes)
        return
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) c.uint.preencode(state, v < 0 ? -v - 1 : v)
        else state.end += 8
        return
      case 'boolean':
      case 'undefined':
        return
      case 'bigint':
        preBigint(state, v, this._notes)
        return
      case 'object':
        if (v === null) return
        this._preObject(state, v, depth)
        return
      default:
        throw ClusterError.NOT_SERIALIZABLE(`a ${typeof v} cannot be sent`)
    }
  }

  private _preObject(state: State, v: object, depth: number): void {
    if (depth >= VALUE_LIMITS.maxDepth) throw ClusterError.NOT_SERIALIZABLE(`values nested deeper than ${VALUE_LIMITS.maxDepth}`)
    if (v instanceof Uint8Array) {
      c.uint.preencode(state, v.byteLength)
      state.end += v.byteLength
      return
    }
    if (v instanceof Date) {
      state.end += 8
      return
    }
    const path = this._ctx.refPath(v)
    if (path !== null) {
      preText(state, path, this._notes)
      return
    }
    if (this._seen.has(v)) throw ClusterError.NOT_SERIALIZABLE('a value that contains itself cannot be sent')
    this._seen.add(v)
    if (Array.isArray(v)) {
      c.uint.preencode(state, v.length)
      for (let i = 0; i < v.length; i++) this.pre(state, v[i], depth + 1)
    } else if (v instanceof Map) {
      c.uint.preencode(state, v.size)
      for (const [k, x] of v) {
        this.pre(state, k, depth + 1)
        this.pre(state, x, depth + 1)
      }
    } else if (v instanceof Set) {
      c.uint.preencode(state, v.size)
      for (const x of v) this.pre(state, x, depth + 1)
    } else if (isPlainObject(v)) {
      const keys = Object.keys(v)
      c.uint.preencode(state, keys.length)
      for (const k of keys) {
        preText(state, k, this._notes)
        this.pre(state, (v as Record<string, unknown>)[k], depth + 1)
      }
    } else {
      const custom = this._ctx.custom(v)
      if (custom === null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
        throw ClusterError.NOT_SERIALIZABLE(`no serializer for a ${name}: register one, or send plain data`)
      }
      this._notes.push(custom)
      preText(state, custom.manifest, this._notes)
      c.uint.preencode(state, custom.bytes.byteLength)
      state.end += custom.bytes.byteLength
    }
    this._seen.delete(v)
  }

  enc(state: State, v: unknown): void {
    const b = state.buffer
    switch (typeof v) {
      case 'string':
        b[state.start++] = TAG.STRING
        this._text(state, v)
        return
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          b[state.start++] = v < 0 ? TAG.NEGATIVE_INT : TAG.UINT
          c.uint.encode(state, v < 0 ? -v - 1 : v)
        } else {
          b[state.start++] = TAG.FLOAT
          c.float64.encode(state, v)
        }
        return
      case 'boolean':
        b[state.start++] = v ? TAG.TRUE : TAG.FALSE
        return
      case 'undefined':
        b[state.start++] = TAG.UNDEFINED
        return
      case 'bigint': {
        b[state.start++] = TAG.BIGINT
        b[state.start++] = v < 0n ? 1 : 0
        const hex = this._notes[this._next++] as string
        const n = hex.length / 2
        c.uint.encode(state, n)
        state.start += b4a.write(b, hex, state.start, n, 'hex')
        return
      }
      default:
        if (v === null) {
          b[state.start++] = TAG.NULL
          return
        }
        this._encObject(state, v as object)
    }
  }

  private _encObject(state: State, v: object): void {
    const b = state.buffer
    if (v instanceof Uint8Array) {
      b[state.start++] = TAG.BYTES
      c.uint.encode(state, v.byteLength)
      b.set(v, state.start)
      state.start += v.byteLength
      return
    }
    if (v instanceof Date) {
      b[state.start++] = TAG.DATE
      c.float64.encode(state, v.getTime())
      return
    }
    const path = this._ctx.refPath(v)
    if (path !== null) {
      b[state.start++] = TAG.REF
      this._text(state, path)
      return
    }
    if (Array.isArray(v)) {
      b[state.start++] = TAG.ARRAY
      c.uint.encode(state, v.length)
      for (let i = 0; i < v.length; i++) this.enc(state, v[i])
    } else if (v instanceof Map) {
      b[state.start++] = TAG.MAP
      c.uint.encode(state, v.size)
      for (const [k, x] of v) {
        this.enc(state, k)
        this.enc(state, x)
      }
    } else if (v instanceof Set) {
      b[state.start++] = TAG.SET
      c.uint.encode(state, v.size)
      for (const x of v) this.enc(state, x)
    } else if (isPlainObject(v)) {
      b[state.start++] = TAG.OBJECT
      const keys = Object.keys(v)
      c.uint.encode(state, keys.length)
      for (const k of keys) {
        this._text(state, k)
        this.enc(state, (v as Record<string, unknown>)[k])
      }
    } else {
      const custom = this._notes[this._next++] as { manifest: string; bytes: Uint8Array }
      b[state.start++] = TAG.CUSTOM
      this._text(state, custom.manifest)
      c.uint.encode(state, custom.bytes.byteLength)
      b.set(custom.bytes, state.start)
      state.start += custom.bytes.byteLength
    }
  }

  private _text(state: State, s: string): void {
    const n = this._notes[this._next++] as number
    c.uint.encode(state, n)
    if (n === s.length) {
      // ASCII: one byte per character.
      const b = state.buffer
      for (let i = 0; i < n; i++) b[state.start + i] = s.charCodeAt(i)
      state.start += n
    } else {
      state.start += b4a.write(state.buffer, s, state.start, n, 'utf8')
    }
  }
}

class Reader {
  readonly state: State
  private _ctx: DecodeContext
  private _values: number

  constructor(bytes: Uint8Array, ctx: DecodeContext) {
    this.state = { start: 0, end: bytes.byteLength, buffer: bytes }
    this._ctx = ctx
    this._values = 0
  }

  value(depth: number): unknown {
    if (++this._values > VALUE_LIMITS.maxValues) throw ClusterError.BAD_MESSAGE(`more than ${VALUE_LIMITS.maxValues} values in one message`)
    const state = this.state
    const tag = decByte(state)
    switch (tag) {
      case TAG.NULL:
        return null
      case TAG.UNDEFINED:
        return undefined
      case TAG.FALSE:
        return false
      case TAG.TRUE:
        return true
      case TAG.UINT:
        return decUint(state)
      case TAG.NEGATIVE_INT:
        return -decUint(state) - 1
      case TAG.FLOAT:
        return decFloat(state)
      case TAG.STRING:
        return decString(state, ANY, 'string')
      case TAG.BYTES:
        // A copy: the frame's buffer is reused and the receiver may keep this.
        return copyBytes(decBytes(state, ANY, 'bytes'))
      case TAG.BIGINT: {
        const negative = decByte(state)
        if (negative > 1) throw ClusterError.BAD_MESSAGE('bad bigint sign')
        const magnitude = decBytes(state, ANY, 'bigint')
        const n = magnitude.byteLength === 0 ? 0n : BigInt('0x' + b4a.toString(magnitude, 'hex'))
        return negative === 1 ? -n : n
      }
      case TAG.DATE:
        return new Date(decFloat(state))
      case TAG.REF:
        return this._ctx.ref(decString(state, ANY, 'actor path'))
      case TAG.CUSTOM: {
        const manifest = decString(state, ANY, 'manifest')
        return this._ctx.custom(manifest, copyBytes(decBytes(state, ANY, 'custom value')))
      }
    }
    if (depth >= VALUE_LIMITS.maxDepth) throw ClusterError.BAD_MESSAGE(`values nested deeper than ${VALUE_LIMITS.maxDepth}`)
    switch (tag) {
      case TAG.ARRAY: {
        const n = decCount(state, ANY, 'array items')
        const out: unknown[] = []
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1))
        return out
      }
      case TAG.OBJECT: {
        const n = decCount(state, ANY, 'object keys')
        const out: Record<string, unknown> = {}
        for (let i = 0; i < n; i++) {
          const key = decString(state, ANY, 'object key')
          const value = this.value(depth + 1)
          // A key named __proto__ must stay data, not replace the prototype.
          Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
        }
        return out
      }
      case TAG.MAP: {
        const n = decCount(state, ANY, 'map entries')
        const out = new Map<unknown, unknown>()
        for (let i = 0; i < n; i++) {
          const k = this.value(depth + 1)
          out.set(k, this.value(depth + 1))
        }
        return out
      }
      case TAG.SET: {
        const n = decCount(state, ANY, 'set items')
        const out = new Set<unknown>()
        for (let i = 0; i < n; i++) out.add(this.value(depth + 1))
        return out
      }
    }
    throw ClusterError.BAD_MESSAGE(`unknown value tag ${tag}`)
  }
}

function preText(state: State, s: string, notes: unknown[]): void {
  const n = isAscii(s) ? s.length : b4a.byteLength(s, 'utf8')
  notes.push(n)
  c.uint.preencode(state, n)
  state.end += n
}

function preBigint(state: State, v: bigint, notes: unknown[]): void {
  let hex = v === 0n ? '' : (v < 0n ? -v : v).toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  notes.push(hex)
  state.end += 1
  c.uint.preencode(state, hex.length / 2)
  state.end += hex.length / 2
}

/** Values the codec writes itself; custom serializers are asked only about other objects. */
export function hasBuiltinShape(v: object): boolean {
  return v instanceof Uint8Array || v instanceof Date || Array.isArray(v) || v instanceof Map || v instanceof Set || isPlainObject(v)
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const EMPTY = new Uint8Array(0)
const NO_CONTEXT: EncodeContext = { refPath: () => null, custom: () => null }
