// The handshake's codecs: hello and hello-ack (wire versions, cluster, address, incarnation, caps,
// nonce, optional proof, what was acknowledged) and auth (the proof sent after them).

import { LIMITS, type AuthMessage, type HandshakeFields, type HelloAckMessage, type HelloMessage } from './messages.ts'
import { bytesMessage } from './one-field-codecs.ts'
import { decByte, decBytes, decString, decUint, encBytes, encString, encUint, preBytes, preString, preUint, type Codec, type State } from './primitives.ts'

const HAS_PROOF = 1

export const hello: Codec<HelloMessage> = {
  preencode(state, m) {
    preUint(state, m.minVersion)
    preUint(state, m.maxVersion)
    preHandshake(state, m)
  },
  encode(state, m) {
    encUint(state, m.minVersion)
    encUint(state, m.maxVersion)
    encHandshake(state, m)
  },
  decode(state) {
    const minVersion = decUint(state)
    const maxVersion = decUint(state)
    return { kind: 'hello', minVersion, maxVersion, ...decHandshake(state) }
  }
}

export const helloAck: Codec<HelloAckMessage> = {
  preencode(state, m) {
    preUint(state, m.version)
    preHandshake(state, m)
  },
  encode(state, m) {
    encUint(state, m.version)
    encHandshake(state, m)
  },
  decode(state) {
    const version = decUint(state)
    return { kind: 'hello-ack', version, ...decHandshake(state) }
  }
}

export const auth: Codec<AuthMessage> = bytesMessage('auth', 'proof', LIMITS.proof)

function preHandshake(state: State, m: HandshakeFields): void {
  preString(state, m.cluster, LIMITS.cluster, 'cluster')
  preString(state, m.from, LIMITS.address, 'from')
  preUint(state, m.incarnation)
  preUint(state, m.maxFrameBytes)
  preUint(state, m.features)
  preBytes(state, m.nonce, LIMITS.nonce, 'nonce')
  state.end++
  if (m.proof !== null) preBytes(state, m.proof, LIMITS.proof, 'proof')
  preUint(state, m.ackIncarnation ?? 0)
  preUint(state, m.ack ?? 0)
}

function encHandshake(state: State, m: HandshakeFields): void {
  encString(state, m.cluster)
  encString(state, m.from)
  encUint(state, m.incarnation)
  encUint(state, m.maxFrameBytes)
  encUint(state, m.features)
  encBytes(state, m.nonce)
  state.buffer[state.start++] = m.proof === null ? 0 : HAS_PROOF
  if (m.proof !== null) encBytes(state, m.proof)
  encUint(state, m.ackIncarnation ?? 0)
  encUint(state, m.ack ?? 0)
}

function decHandshake(state: State): HandshakeFields {
  const cluster = decString(state, LIMITS.cluster, 'cluster')
  const from = decString(state, LIMITS.address, 'from')
  const incarnation = decUint(state)
  const maxFrameBytes = decUint(state)
  const features = decUint(state)
  const nonce = decBytes(state, LIMITS.nonce, 'nonce')
  const flags = decByte(state)
  const proof = flags & HAS_PROOF ? decBytes(state, LIMITS.proof, 'proof') : null
  // Appended in version 3: a hello that ends before them acknowledges nothing.
  const ackIncarnation = state.start < state.end ? decUint(state) : 0
  const ack = state.start < state.end ? decUint(state) : 0
  return { cluster, from, incarnation, maxFrameBytes, features, nonce, proof, ackIncarnation, ack }
}
