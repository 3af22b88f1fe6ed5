// Turns messages into (manifest, bytes) and back. The default format (manifest '') is the tagged
// value codec; applications register serializers for their own classes by manifest. A registered
// class travels under its own manifest at the top of a message and inside the value codec when
// nested in plain data. Plain objects, arrays, Maps, Sets, Dates and Uint8Arrays always take the
// value codec.

import { ClusterError } from '../errors.ts'
import { decodeValue, encodeValue, hasBuiltinShape, type DecodeContext, type EncodeContext } from './value-codec.ts'

export const DEFAULT_MANIFEST = ''
const MAX_MANIFEST_LENGTH = 256

export interface Serializer<T = unknown> {
  /** A stable name for the type on the wire; both sides must register the same one. */
  manifest: string
  /** Values whose constructor is `type` are taken by this serializer (the fast match) ... */
  type?: abstract new (...args: never[]) => T
  /** ... or values for which `test` returns true. */
  test?: (value: unknown) => boolean
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array): T
}

export interface Serialized {
  manifest: string
  body: Uint8Array
}

/** How refs cross the wire: the actor system gives their full path, and makes a ref of a path. */
export interface RefCodec {
  /** @internal */
  pathOf(value: object): string | null
  /** @internal */
  refOf(path: string): unknown
}

/** The serializers a system's messages cross the wire with (`system.serialization`). */
export class Serialization {
  private _byManifest: Map<string, Serializer>
  private _byType: Map<unknown, Serializer>
  private _tests: Serializer[]
  private _encodeCtx: EncodeContext
  private _decodeCtx: DecodeContext

  /** Made by the actor system (`system.serialization`). */
  constructor(refs: RefCodec) {
    this._byManifest = new Map()
    this._byType = new Map()
    this._tests = []
    this._encodeCtx = {
      refPath: (v) => refs.pathOf(v),
      custom: (v) => {
        const s = this._serializerFor(v)
        return s === null ? null : { manifest: s.manifest, bytes: runEncode(s, v) }
      }
    }
    this._decodeCtx = {
      ref: (path) => refs.refOf(path),
      custom: (manifest, bytes) => this.deserialize(manifest, bytes)
    }
  }

  /**
   * Adds a serializer for a type of your own; throws BAD_OPTIONS without a manifest, encode and
   * decode, and a type or a test, or when the manifest is taken.
   */
  register<T>(serializer: Serializer<T>): void {
    const s = serializer as Serializer
    if (typeof s.manifest !== 'string' || s.manifest.length === 0 || s.manifest.length > MAX_MANIFEST_LENGTH) {
      throw ClusterError.BAD_OPTIONS(`a serializer needs a manifest of 1 to ${MAX_MANIFEST_LENGTH} characters`)
    }
    if (typeof s.encode !== 'function' || typeof s.decode !== 'function') throw ClusterError.BAD_OPTIONS('a serializer needs encode and decode')
    if (s.type === undefined && typeof s.test !== 'function') throw ClusterError.BAD_OPTIONS('a serializer needs a type or a test')
    if (this._byManifest.has(s.manifest)) throw ClusterError.BAD_OPTIONS(`a serializer for ${s.manifest} is registered`)
    this._byManifest.set(s.manifest, s)
    if (s.type !== undefined) this._byType.set(s.type, s)
    else this._tests.push(s)
  }

  /** A value's manifest and bytes; throws NOT_SERIALIZABLE for what no codec takes. */
  serialize(value: unknown): Serialized {
    if (typeof value === 'object' && value !== null && !hasBuiltinShape(value)) {
      const s = this._serializerFor(value)
      if (s !== null) return { manifest: s.manifest, body: runEncode(s, value) }
    }
    return { manifest: DEFAULT_MANIFEST, body: encodeValue(value, this._encodeCtx) }
  }

  /**
   * Throws UNKNOWN_MANIFEST for a manifest nobody registered here, BAD_MESSAGE for bytes that do
   * not decode.
   */
  deserialize(manifest: string, body: Uint8Array): unknown {
    if (manifest === DEFAULT_MANIFEST) return decodeValue(body, this._decodeCtx)
    const s = this._byManifest.get(manifest)
    if (s === undefined) throw ClusterError.UNKNOWN_MANIFEST(`no serializer for ${JSON.stringify(manifest.slice(0, 64))}`)
    try {
      return s.decode(body)
    } catch (err) {
      if (err instanceof ClusterError) throw err
      throw ClusterError.BAD_MESSAGE(`the ${manifest} serializer could not decode a message`, err)
    }
  }

  /** What the other side would get: for checking locally that a message can cross the wire. */
  roundTrip(value: unknown): unknown {
    const { manifest, body } = this.serialize(value)
    return this.deserialize(manifest, body)
  }

  private _serializerFor(value: object): Serializer | null {
    const byType = this._byType.get(value.constructor)
    if (byType !== undefined) return byType
    for (const s of this._tests) if (s.test!(value)) return s
    return null
  }
}

function runEncode(s: Serializer, value: unknown): Uint8Array {
  let bytes: unknown
  try {
    bytes = s.encode(value)
  } catch (err) {
    throw ClusterError.NOT_SERIALIZABLE(`the ${s.manifest} serializer failed`, err)
  }
  if (!(bytes instanceof Uint8Array)) throw ClusterError.NOT_SERIALIZABLE(`the ${s.manifest} serializer did not return a Uint8Array`)
  return bytes
}
