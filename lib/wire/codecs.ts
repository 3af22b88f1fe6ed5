// Every message kind's codec, by kind and by kind byte.

import { ClusterError } from '../errors.ts'
import { envelope, subsystem } from './envelope-codecs.ts'
import { auth, hello, helloAck } from './handshake-codecs.ts'
import { ack, chunk, goodbye, resume } from './link-codecs.ts'
import { gossip, heartbeat, heartbeatAck, leave } from './membership-codecs.ts'
import { KIND_CODES, type WireKind, type WireMessage } from './messages.ts'
import type { Codec } from './primitives.ts'

const CODECS: { [K in WireKind]: Codec<Extract<WireMessage, { kind: K }>> } = {
  hello,
  'hello-ack': helloAck,
  auth,
  heartbeat,
  'heartbeat-ack': heartbeatAck,
  gossip,
  envelope,
  subsystem,
  leave,
  goodbye,
  chunk,
  ack,
  resume
}

const BY_CODE: (Codec<WireMessage> | undefined)[] = []
for (const [kind, code] of Object.entries(KIND_CODES)) BY_CODE[code] = CODECS[kind as WireKind] as Codec<WireMessage>

/** The codec of `msg`'s kind; UNKNOWN_KIND for anything else. */
export function codecOf(msg: WireMessage): Codec<WireMessage> {
  const codec = msg !== null && typeof msg === 'object' ? (CODECS as Record<string, Codec<WireMessage> | undefined>)[msg.kind] : undefined
  if (codec === undefined) throw ClusterError.UNKNOWN_KIND(`cannot encode kind ${String((msg as { kind?: unknown })?.kind)}`)
  return codec
}

/** The codec of a kind byte, or undefined for one this version does not know. */
export function codecOfCode(code: number): Codec<WireMessage> | undefined {
  return BY_CODE[code]
}
