// The codecs of frames about the link itself: goodbye, the pieces of a large message sent in
// chunks, and the numbering of frames (ack, resume).

import { LIMITS, type AckMessage, type ChunkMessage, type GoodbyeMessage, type ResumeMessage } from './messages.ts'
import { stringMessage, uintMessage } from './one-field-codecs.ts'
import { ANY_LENGTH, decBytes, decUint, encBytes, encUint, preBytes, preUint, type Codec } from './primitives.ts'

export const goodbye: Codec<GoodbyeMessage> = stringMessage('goodbye', 'reason', LIMITS.reason)

export const chunk: Codec<ChunkMessage> = {
  preencode(state, m) {
    preUint(state, m.id)
    preUint(state, m.offset)
    preUint(state, m.totalBytes)
    preBytes(state, m.data, ANY_LENGTH, 'data')
  },
  encode(state, m) {
    encUint(state, m.id)
    encUint(state, m.offset)
    encUint(state, m.totalBytes)
    encBytes(state, m.data)
  },
  decode(state) {
    const id = decUint(state)
    const offset = decUint(state)
    const totalBytes = decUint(state)
    const data = decBytes(state, ANY_LENGTH, 'data')
    return { kind: 'chunk', id, offset, totalBytes, data }
  }
}

export const ack: Codec<AckMessage> = uintMessage('ack', 'delivered')

export const resume: Codec<ResumeMessage> = uintMessage('resume', 'next')
