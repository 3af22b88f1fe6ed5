// The handshake of one connection as a state machine with no socket and no timer: frames go in,
// and each step says what to write and whether the connection now opens, waits, or closes with
// a coded error. The connection owns the socket and the timeout; the transport decides, through
// `accept`, which of two connections to one peer survives.
//
// Dialler:  hello ->            <- hello-ack [proof]      (auth ->)   open
// Listener: <- hello            hello-ack [proof] ->      (<- auth)   open

import { randomBytes } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import { NodeAddress } from '../node-address.ts'
import { chooseVersion, MIN_WIRE_VERSION, WIRE_VERSION } from '../wire/index.ts'
import type { HelloAckMessage, HelloMessage, WireMessage } from '../wire/index.ts'
import { SECRET_FEATURE, checkProof, proveHandshake, type HandshakeSide } from './auth.ts'

export interface LocalIdentity {
  address: NodeAddress
  cluster: string
  incarnation: number
  maxFrameBytes: number
  /** The cluster secret both sides must prove, or null. */
  secret: Uint8Array | null
}

/**
 * A listener's decision on a hello that passed every check: null accepts it, a string refuses it
 * with that reason (sent to the dialler in a goodbye), an error refuses it with its code.
 */
export type AcceptHello = (from: NodeAddress, hello: HelloMessage) => string | ClusterError | null

/** What this node delivered of a peer's numbered frames: that peer's incarnation, the number. */
export type Delivered = (remote: NodeAddress) => { incarnation: number; delivered: number } | null

export const HandshakeState = {
  /** Dialler: hello sent, waiting for the listener's hello-ack. */
  AWAIT_ACK: 'await-ack',
  /** Listener: waiting for the dialler's hello. */
  AWAIT_HELLO: 'await-hello',
  /** Listener with a secret: hello-ack sent, waiting for the dialler's proof. */
  AWAIT_AUTH: 'await-auth',
  OPEN: 'open',
  FAILED: 'failed'
} as const

export type HandshakeState = (typeof HandshakeState)[keyof typeof HandshakeState]

/**
 * What a step asks of the connection: write `send` (if any), then
 *   'wait'    keep reading handshake frames
 *   'open'    the handshake is done: frames from now on are the peer's traffic
 *   'end'     refused politely: `send` is the goodbye; end the connection with `error`
 *   'destroy' a protocol violation: cut the connection with `error`
 */
export interface HandshakeStep {
  send: WireMessage | null
  then: 'wait' | 'open' | 'end' | 'destroy'
  error: ClusterError | null
}

/** A goodbye with this reason during the handshake means "we already have a connection". */
export const DUPLICATE_REASON = 'duplicate'
// Refusals say what differs after `: ` (a node that predates the detail sends the bare reason,
// and one that predates it reads the whole string as the reason): see docs/wire.md.
export const AUTH_REASON = 'authentication failed'
export const MISMATCH_REASON = 'cluster mismatch'
export const VERSION_REASON = 'incompatible wire version'
export const SECRET_REQUIRED = 'a cluster secret is required'
export const NO_SECRET_HERE = 'this node has no cluster secret'
export const SECRETS_DIFFER = 'the cluster secrets differ'
const NONCE_BYTES = 32

export class Handshake {
  readonly outbound: boolean
  /** Who the dialler expects at the other end; the handshake must agree (unless `anyName`). */
  readonly expected: NodeAddress | null
  /** The dialled address is only how to reach the other side (a seed): what it announces is its name. */
  readonly anyName: boolean
  state: HandshakeState
  /** Known once the other side's hello (or hello-ack) passed its checks. */
  remote: NodeAddress | null
  incarnation: number
  version: number
  peerMaxFrameBytes: number
  /** The listener refused our dial because it already has a connection to us. */
  refusedAsDuplicate: boolean
  /** What the other side said it delivered of this node's frames (0 when of another run). */
  peerAck: number
  private _local: LocalIdentity
  private _delivered: Delivered | null
  private _accept: AcceptHello
  private _nonce: Uint8Array
  /** Listener with a secret: the two sides, kept until the dialler's proof. */
  private _sides: { dialler: HandshakeSide; listener: HandshakeSide } | null
  private _describe: (() => string) | null

  constructor(
    local: LocalIdentity,
    opts: {
      outbound: boolean
      expected?: NodeAddress | null
      anyName?: boolean
      accept?: AcceptHello
      /** What this node delivered of a peer's frames, told in the hello or hello-ack. */
      delivered?: Delivered
      nonce?: Uint8Array
      /** Names the other side in error messages. Default: its address once known. */
      describe?: () => string
    }
  ) {
    this.outbound = opts.outbound
    this.expected = opts.expected ?? null
    this.anyName = opts.anyName === true
    this.state = opts.outbound ? HandshakeState.AWAIT_ACK : HandshakeState.AWAIT_HELLO
    this.remote = null
    this.incarnation = 0
    this.version = 0
    this.peerMaxFrameBytes = local.maxFrameBytes
    this.refusedAsDuplicate = false
    this.peerAck = 0
    this._local = local
    this._delivered = opts.delivered ?? null
    this._accept = opts.accept ?? acceptAll
    this._nonce = opts.nonce ?? randomBytes(NONCE_BYTES)
    this._sides = null
    this._describe = opts.describe ?? null
  }

  get done(): boolean {
    return this.state === HandshakeState.OPEN || this.state === HandshakeState.FAILED
  }

  /** The dialler's first frame; null for a listener, which speaks second. */
  start(): WireMessage | null {
    if (!this.outbound) return null
    // Which run of the listener answers is not known yet: it checks the incarnation named here.
    const d = this.expected === null ? null : (this._delivered?.(this.expected) ?? null)
    return {
      kind: 'hello',
      minVersion: MIN_WIRE_VERSION,
      maxVersion: WIRE_VERSION,
      cluster: this._local.cluster,
      from: this._local.address.toString(),
      incarnation: this._local.incarnation,
      maxFrameBytes: this._local.maxFrameBytes,
      features: this._features(),
      nonce: this._nonce,
      proof: null,
      ackIncarnation: d?.incarnation ?? 0,
      ack: d?.delivered ?? 0
    }
  }

  /** One frame from the other side while the handshake is under way. */
  receive(msg: WireMessage): HandshakeStep {
    if (this.done) return this._fail(ClusterError.HANDSHAKE_FAILED(`a ${msg.kind} after the handshake ended`))
    try {
      switch (this.state) {
        case HandshakeState.AWAIT_ACK:
          return this._onhelloack(msg)
        case HandshakeState.AWAIT_HELLO:
          return this._onhello(msg)
        default:
          return this._onauth(msg)
      }
    } catch (err) {
      return this._fail(ClusterError.from(err, 'HANDSHAKE_FAILED'))
    }
  }

  /** The connection's timer ran out before the handshake ended. */
  timeout(ms: number, who: string): HandshakeStep {
    if (this.done) return { send: null, then: 'wait', error: null }
    return this._fail(ClusterError.HANDSHAKE_TIMEOUT(`no handshake from ${who} in ${ms} ms`))
  }

  /** Dialler: the listener's answer, and with a secret its proof, then ours. */
  private _onhelloack(msg: WireMessage): HandshakeStep {
    if (msg.kind === 'goodbye') return this._refused(msg.reason)
    if (msg.kind !== 'hello-ack') return this._fail(ClusterError.HANDSHAKE_FAILED(`expected hello-ack, got ${msg.kind}`))
    if (msg.cluster !== this._local.cluster) return this._fail(mismatch(this._peer(), msg.cluster, this._local.cluster))
    if (msg.version < MIN_WIRE_VERSION || msg.version > WIRE_VERSION) {
      return this._fail(ClusterError.BAD_VERSION(`peer ${this._peer()} chose wire version ${msg.version}, this node speaks ${MIN_WIRE_VERSION}-${WIRE_VERSION}`))
    }
    const from = NodeAddress.parse(msg.from)
    if (from.equals(this._local.address)) {
      return this._fail(ClusterError.HANDSHAKE_FAILED(`dialled ${this.expected?.toString() ?? 'a peer'} and reached this node itself`))
    }
    if (this.expected !== null && !this.anyName && !from.equals(this.expected)) {
      return this._fail(ClusterError.HANDSHAKE_FAILED(`dialled ${this.expected.toString()} but ${from.toString()} answered`))
    }
    this._identify(from, msg.version, msg.incarnation, msg.maxFrameBytes)
    this._acknowledged(msg)
    const local = this._local
    if (local.secret === null) {
      if (msg.proof !== null || (msg.features & SECRET_FEATURE) !== 0) {
        return this._fail(ClusterError.AUTH_FAILED(`peer ${this._peer()} requires a cluster secret; this node has none`))
      }
      return this._open(null)
    }
    const dialler: HandshakeSide = { address: local.address.toString(), incarnation: local.incarnation, nonce: this._nonce }
    const listener: HandshakeSide = { address: msg.from, incarnation: msg.incarnation, nonce: msg.nonce }
    if (!checkProof(msg.proof, local.secret, 'listener', local.cluster, dialler, listener)) {
      return this._refuse(`${AUTH_REASON}: ${SECRETS_DIFFER}`, ClusterError.AUTH_FAILED(`peer ${this._peer()} does not share this node's cluster secret`))
    }
    return this._open({ kind: 'auth', proof: proveHandshake(local.secret, 'dialler', local.cluster, dialler, listener) })
  }

  /** Listener: the dialler's hello. */
  private _onhello(msg: WireMessage): HandshakeStep {
    if (msg.kind === 'goodbye') return this._refused(msg.reason)
    if (msg.kind !== 'hello') return this._fail(ClusterError.HANDSHAKE_FAILED(`expected hello, got ${msg.kind}`))
    // Named by the address it claims (its port here is an ephemeral one), checked or not.
    const claimed = claimedPeer(msg.from) ?? this._who()
    const ours = `${MIN_WIRE_VERSION}-${WIRE_VERSION}`
    let version: number
    try {
      version = chooseVersion(msg.minVersion, msg.maxVersion)
    } catch {
      return this._refuse(
        `${VERSION_REASON}: ${ours}`,
        ClusterError.BAD_VERSION(`peer ${claimed} speaks wire versions ${msg.minVersion}-${msg.maxVersion}, this node ${ours}`)
      )
    }
    const local = this._local
    if (msg.cluster !== local.cluster) {
      return this._refuse(`${MISMATCH_REASON}: ${JSON.stringify(local.cluster)}`, mismatch(claimed, msg.cluster, local.cluster))
    }
    const wantsSecret = (msg.features & SECRET_FEATURE) !== 0
    if (local.secret !== null && !wantsSecret) {
      return this._refuse(`${AUTH_REASON}: ${SECRET_REQUIRED}`, ClusterError.AUTH_FAILED(`peer ${claimed} has no cluster secret; this node requires one`))
    }
    if (local.secret === null && wantsSecret) {
      return this._refuse(`${AUTH_REASON}: ${NO_SECRET_HERE}`, ClusterError.AUTH_FAILED(`peer ${claimed} uses a cluster secret; this node has none`))
    }
    const from = NodeAddress.parse(msg.from)
    if (from.equals(local.address)) {
      return this._fail(ClusterError.HANDSHAKE_FAILED(`a peer claims this node's own address ${from.toString()}`))
    }
    this._identify(from, version, msg.incarnation, msg.maxFrameBytes)
    this._acknowledged(msg)
    const refusal = this._accept(from, msg)
    if (typeof refusal === 'string') return this._refuse(refusal, ClusterError.HANDSHAKE_FAILED(`refused ${from.toString()}: ${refusal}`))
    if (refusal !== null) return this._refuse(refusal.message, refusal)
    const dialler: HandshakeSide = { address: msg.from, incarnation: msg.incarnation, nonce: msg.nonce }
    const listener: HandshakeSide = { address: local.address.toString(), incarnation: local.incarnation, nonce: this._nonce }
    const d = this._delivered?.(from) ?? null
    const delivered = d !== null && d.incarnation === msg.incarnation ? d.delivered : 0
    const ack: HelloAckMessage = {
      kind: 'hello-ack',
      version,
      cluster: local.cluster,
      from: listener.address,
      incarnation: local.incarnation,
      maxFrameBytes: local.maxFrameBytes,
      features: this._features(),
      nonce: this._nonce,
      proof: local.secret === null ? null : proveHandshake(local.secret, 'listener', local.cluster, dialler, listener),
      ackIncarnation: delivered === 0 ? 0 : msg.incarnation,
      ack: delivered
    }
    if (local.secret === null) return this._open(ack)
    this._sides = { dialler, listener }
    this.state = HandshakeState.AWAIT_AUTH
    return { send: ack, then: 'wait', error: null }
  }

  /** Listener with a secret: the dialler's proof, or nothing gets through. */
  private _onauth(msg: WireMessage): HandshakeStep {
    const sides = this._sides!
    if (msg.kind === 'goodbye') {
      const why = msg.reason.startsWith(`${AUTH_REASON}: `) ? msg.reason.slice(AUTH_REASON.length + 2) : msg.reason
      const differ = why === SECRETS_DIFFER || msg.reason === AUTH_REASON
      return this._fail(ClusterError.AUTH_FAILED(`peer ${this._peer()} ${differ ? "does not share this node's cluster secret" : `refused this node's proof: ${why}`}`))
    }
    if (msg.kind !== 'auth') return this._fail(ClusterError.AUTH_FAILED(`expected the dialler's proof, got ${msg.kind}`))
    const local = this._local
    if (!checkProof(msg.proof, local.secret!, 'dialler', local.cluster, sides.dialler, sides.listener)) {
      return this._fail(ClusterError.AUTH_FAILED(`peer ${this._peer()} does not share this node's cluster secret`))
    }
    this._sides = null
    return this._open(null)
  }

  /** The other side said goodbye instead of answering; its reason says what differs. */
  private _refused(reason: string): HandshakeStep {
    if (reason === DUPLICATE_REASON) this.refusedAsDuplicate = true
    const peer = this._peer()
    const [head, detail] = splitReason(reason)
    const local = this._local
    switch (head) {
      case MISMATCH_REASON: {
        const theirs = detail === null ? null : parseName(detail)
        if (theirs !== null) return this._fail(mismatch(peer, theirs, local.cluster))
        return this._fail(ClusterError.CLUSTER_MISMATCH(`peer ${peer} is in another cluster, this node in ${JSON.stringify(local.cluster)}`))
      }
      case VERSION_REASON: {
        // Only a range is repeated: the reason is the peer's to write.
        const theirs = detail !== null && /^[0-9]{1,10}-[0-9]{1,10}$/.test(detail) ? `wire versions ${detail}` : 'no wire version this node does'
        return this._fail(ClusterError.BAD_VERSION(`peer ${peer} speaks ${theirs}, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`))
      }
      case AUTH_REASON: {
        const text =
          detail === SECRET_REQUIRED
            ? `peer ${peer} requires a cluster secret; this node has none`
            : detail === NO_SECRET_HERE
              ? `peer ${peer} has no cluster secret; this node uses one`
              : `peer ${peer} does not share this node's cluster secret`
        return this._fail(ClusterError.AUTH_FAILED(text))
      }
    }
    return this._fail(ClusterError.HANDSHAKE_FAILED(`${this._who()} refused the connection: ${reason}`))
  }

  private _open(send: WireMessage | null): HandshakeStep {
    this.state = HandshakeState.OPEN
    return { send, then: 'open', error: null }
  }

  private _refuse(reason: string, error: ClusterError): HandshakeStep {
    this.state = HandshakeState.FAILED
    return { send: { kind: 'goodbye', reason }, then: 'end', error }
  }

  private _fail(error: ClusterError): HandshakeStep {
    this.state = HandshakeState.FAILED
    return { send: null, then: 'destroy', error }
  }

  private _identify(from: NodeAddress, version: number, incarnation: number, maxFrameBytes: number): void {
    this.remote = from
    this.version = version
    this.incarnation = incarnation
    this.peerMaxFrameBytes = maxFrameBytes
  }

  // The other side's word on what it delivered of this node's frames counts for this run only.
  private _acknowledged(msg: HelloMessage | HelloAckMessage): void {
    this.peerAck = msg.ackIncarnation === this._local.incarnation ? (msg.ack ?? 0) : 0
  }

  private _features(): number {
    return this._local.secret === null ? 0 : SECRET_FEATURE
  }

  // `host:port` of the other side as dialled or as identified, else as described.
  private _peer(): string {
    const a = this.remote ?? this.expected
    return a === null ? this._who() : hostPort(a)
  }

  private _who(): string {
    if (this._describe !== null) return this._describe()
    return (this.remote ?? this.expected)?.toString() ?? 'the peer'
  }
}

function acceptAll(): null {
  return null
}

function mismatch(peer: string, theirs: string, ours: string): ClusterError {
  return ClusterError.CLUSTER_MISMATCH(`peer ${peer} is in cluster ${JSON.stringify(theirs)}, this node in ${JSON.stringify(ours)}`)
}

function hostPort(a: NodeAddress): string {
  if (a.byKey) return a.toString()
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
}

function claimedPeer(from: string): string | null {
  try {
    return hostPort(NodeAddress.parse(from))
  } catch {
    return null
  }
}

// `cluster mismatch: "alpha"` -> ['cluster mismatch', '"alpha"']; a bare reason has no detail.
function splitReason(reason: string): [string, string | null] {
  const at = reason.indexOf(': ')
  return at === -1 ? [reason, null] : [reason.slice(0, at), reason.slice(at + 2)]
}

// A quoted cluster name from a refusal, or null if it is not one (a peer may send anything).
function parseName(detail: string): string | null {
  try {
    const name: unknown = JSON.parse(detail)
    return typeof name === 'string' && name.length <= 128 ? name : null
  } catch {
    return null
  }
}
