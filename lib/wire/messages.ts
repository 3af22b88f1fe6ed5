// The messages nodes exchange. A union discriminated by `kind`; the byte layout of each is in
// the codecs beside this file (codecs.ts names them) and docs/wire.md.

/**
 * Version 3: the frames of a connection are numbered and acknowledged (`ack`, `resume`, and the
 * handshake's `ackIncarnation` and `ack`), so what a dead connection carried is resent. Version 2
 * added signed member records. Version 2 nodes do not number frames, so they are refused.
 */
export const WIRE_VERSION = 3
export const MIN_WIRE_VERSION = 3
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
export const FRAME_HEADER_BYTES = 4

export type MemberStatus = 'joining' | 'up' | 'leaving' | 'down' | 'removed'

/** What both hello and hello-ack carry about the side that sends them. */
export interface HandshakeFields {
  cluster: string
  from: string
  incarnation: number
  maxFrameBytes: number
  features: number
  nonce: Uint8Array
  proof: Uint8Array | null
  /** The other side's incarnation that `ack` counts for; absent or 0: none. */
  ackIncarnation?: number
  /** The last numbered frame of that incarnation this side delivered; absent means 0. */
  ack?: number
}

export interface HelloMessage extends HandshakeFields {
  kind: 'hello'
  minVersion: number
  maxVersion: number
}

export interface HelloAckMessage extends HandshakeFields {
  kind: 'hello-ack'
  version: number
}

/** The dialler's proof of the cluster secret, answering the listener's nonce. */
export interface AuthMessage {
  kind: 'auth'
  proof: Uint8Array
}

export interface HeartbeatMessage {
  kind: 'heartbeat'
  seq: number
  sentAt: number
}

export interface HeartbeatAckMessage {
  kind: 'heartbeat-ack'
  seq: number
  sentAt: number
}

/**
 * A member record is ordered by (incarnation, version, status): the status breaks the tie when two
 * nodes wrote the same version at once, so it travels in the digest too.
 */
export interface GossipDigestEntry {
  address: string
  incarnation: number
  version: number
  status: MemberStatus
}

/** "I cannot reach `address` as it was at `version`": a newer record of that member refutes it. */
export interface Observation {
  address: string
  version: number
}

/** A signature by the member at `by` over a statement about another member's record. */
export interface Endorsement {
  by: string
  signature: Uint8Array
}

/** The leader's decision about a member's status, bound to that member's incarnation and key. */
export interface StatusDecision extends Endorsement {
  status: MemberStatus
}

/**
 * A whole member record. Its owner signs everything up to `signature` (`status` is then the
 * owner's own: joining or leaving); `vouch` is a member's word that it met the owner, and
 * `decision` the leader's. The record's status is the higher of `status` and `decision.status`.
 */
export interface GossipDelta {
  address: string
  incarnation: number
  version: number
  status: MemberStatus
  roles: string[]
  unreachable: Observation[]
  key: Uint8Array
  signature: Uint8Array
  vouch: Endorsement | null
  decision: StatusDecision | null
}

export interface GossipMessage {
  kind: 'gossip'
  digest: GossipDigestEntry[]
  deltas: GossipDelta[]
  reply: boolean
  /**
   * 8 random bytes chosen by the sender, then 8 bytes of a hash of its digest keyed by them: when
   * the receiver's hash under the same key matches, nothing more is said.
   */
  summary: Uint8Array | null
}

export interface EnvelopeMessage {
  kind: 'envelope'
  to: string
  from: string | null
  manifest: string
  body: Uint8Array
  /** Absent means null: no correlation id is sent. */
  correlationId?: number | null
}

export interface SubsystemMessage {
  kind: 'subsystem'
  channel: string
  body: Uint8Array
}

export interface LeaveMessage {
  kind: 'leave'
  address: string
}

export interface GoodbyeMessage {
  kind: 'goodbye'
  reason: string
}

/**
 * A piece of a large envelope's encoded message; pieces with one id concatenate, in order, to it.
 */
export interface ChunkMessage {
  kind: 'chunk'
  id: number
  offset: number
  totalBytes: number
  data: Uint8Array
}

/** Every numbered frame up to `delivered` was handed to this side's handler (cumulative). */
export interface AckMessage {
  kind: 'ack'
  delivered: number
}

/** The next numbered frame on this connection has the number `next`. */
export interface ResumeMessage {
  kind: 'resume'
  next: number
}

export type WireMessage =
  | HelloMessage
  | HelloAckMessage
  | AuthMessage
  | HeartbeatMessage
  | HeartbeatAckMessage
  | GossipMessage
  | EnvelopeMessage
  | SubsystemMessage
  | LeaveMessage
  | GoodbyeMessage
  | ChunkMessage
  | AckMessage
  | ResumeMessage

export type WireKind = WireMessage['kind']

/**
 * Kind bytes. 0-127 are core: a node that does not know one refuses the frame. 128-255 are
 * extensions: a node that does not know one skips the frame.
 */
export const KIND_CODES = {
  hello: 1,
  'hello-ack': 2,
  auth: 3,
  heartbeat: 4,
  'heartbeat-ack': 5,
  gossip: 6,
  envelope: 7,
  subsystem: 8,
  leave: 9,
  goodbye: 10,
  chunk: 11,
  ack: 12,
  resume: 13
} as const satisfies Record<WireKind, number>

export const FIRST_EXTENSION_KIND = 128

/**
 * Kinds that travel in a connection's control lane, ahead of envelopes and subsystem messages
 * (and between the chunks of a large envelope): liveness and membership must not wait behind
 * user traffic.
 */
export const CONTROL_KINDS: ReadonlySet<WireKind> = new Set<WireKind>(['heartbeat', 'heartbeat-ack', 'gossip', 'leave', 'goodbye', 'ack'])

/**
 * Kinds that are not numbered: they say something about the link itself, now (a resent heartbeat
 * would time a round trip wrongly). Every other frame after the handshake takes the next number,
 * a chunk only when it is a message's first piece (the message's number).
 */
export const LINK_KINDS: ReadonlySet<WireKind> = new Set<WireKind>(['heartbeat', 'heartbeat-ack', 'goodbye', 'ack', 'resume'])

/**
 * Kinds only a transport itself sends (the handshake, the pieces of a chunked envelope and the
 * numbering of frames):
 * `send` refuses them and they never reach a handler.
 */
export const TRANSPORT_KINDS: ReadonlySet<WireKind> = new Set<WireKind>(['hello', 'hello-ack', 'auth', 'chunk', 'ack', 'resume'])

export const MEMBER_STATUSES: readonly MemberStatus[] = ['joining', 'up', 'leaving', 'down', 'removed']

/**
 * Caps on decoded sizes (bytes for strings and byte strings, entries for lists). Encoding
 * refuses what decoding would refuse.
 */
export const LIMITS = {
  cluster: 256,
  address: 512,
  path: 4096,
  manifest: 1024,
  channel: 256,
  reason: 1024,
  role: 256,
  roles: 64,
  nonce: 64,
  proof: 64,
  entries: 10_000,
  /** Observations in one record: a member watches a few neighbours, never thousands. */
  observations: 256,
  key: 32,
  signature: 64,
  summary: 16
} as const
