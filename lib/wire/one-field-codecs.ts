// Codecs for the messages that carry one field besides their kind: one unsigned integer, one
// capped string, or one capped byte string. Each kind of field has its own factory, not one
// generic over a field codec: the extra call through a shared one made these messages twice as
// slow to encode and decode.

import type { WireKind } from './messages.ts'
import { decBytes, decString, decUint, encBytes, encString, encUint, preBytes, preString, preUint, type Codec } from './primitives.ts'

type OneField<K extends WireKind, F extends string, V> = { kind: K } & { [P in F]: V }

export function uintMessage<K extends WireKind, F extends string>(kind: K, field: F): Codec<OneField<K, F, number>> {
  return {
    preencode(state, m) {
      preUint(state, m[field])
    },
    encode(state, m) {
      encUint(state, m[field])
    },
    decode(state) {
      return { kind, [field]: decUint(state) } as OneField<K, F, number>
    }
  }
}

/** `maxBytes` caps the string's UTF-8 length both ways; `field` names it in errors too. */
export function stringMessage<K extends WireKind, F extends string>(kind: K, field: F, maxBytes: number): Codec<OneField<K, F, string>> {
  return {
    preencode(state, m) {
      preString(state, m[field], maxBytes, field)
    },
    encode(state, m) {
      encString(state, m[field])
    },
    decode(state) {
      return { kind, [field]: decString(state, maxBytes, field) } as OneField<K, F, string>
    }
  }
}

export function bytesMessage<K extends WireKind, F extends string>(kind: K, field: F, maxBytes: number): Codec<OneField<K, F, Uint8Array>> {
  return {
    preencode(state, m) {
      preBytes(state, m[field], maxBytes, field)
    },
    encode(state, m) {
      encBytes(state, m[field])
    },
    decode(state) {
      return { kind, [field]: decBytes(state, maxBytes, field) } as OneField<K, F, Uint8Array>
    }
  }
}
