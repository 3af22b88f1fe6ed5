// One socket between this node and another: its handshake, frame decoding, chunk reassembly and
// writes. What to do with a connection (which peer it belongs to, which of two wins, what to
// send) is the transport's; this class reports to it through ConnectionOwner.

import { randomBytes } from '../../backends/crypto.ts'
import type { TcpSocket } from '../../backends/types.ts'
import { ClusterError } from '../errors.ts'
import { NodeAddress } from '../node-address.ts'
import {
  decodeMessage,
  encodeFrame,
  FrameDecoder,
  chooseVersion,
  WIRE_VERSION,
  MIN_WIRE_VERSION
} from '../wire/index.ts'
import type { ChunkMessage, HelloAckMessage, HelloMessage, WireMessage } from '../wire/index.ts'
import { SECRET_FEATURE, checkProof, proveHandshake, type HandshakeSide } from './auth.ts'

export interface LocalIdentity {
  address: NodeAddress
  cluster: string
  incarnation: number
  maxFrameBytes: number
  // The cluster secret both sides must prove, or null.
  secret: Uint8Array | null
}

export interface ConnectionOwner {
  // An inbound hello passed validation: null accepts it, a string refuses it for that reason.
  _onhello(conn: Connection, from: NodeAddress, hello: HelloMessage): string | null
  _onopen(conn: Connection): void
  _onmessage(conn: Connection, msg: WireMessage): void
  _ondrain(conn: Connection): void
  _onclose(conn: Connection, cause: ClusterError | null): void
}

export const ConnectionState = {
  HANDSHAKING: 'handshaking',
  OPEN: 'open',
  CLOSING: 'closing',
  CLOSED: 'closed'
} as const

export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState]

// A goodbye with this reason during the handshake means "we already have a connection".
export const DUPLICATE_REASON = 'duplicate'
const AUTH_REASON = 'authentication failed'
const MAX_REASSEMBLIES = 4
const NONCE_BYTES = 32
// Until the handshake is done a stranger may send no frame larger than this (a hello is well
// under 1 KiB), so unauthenticated connections cannot make a node buffer megabytes each.
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024
const CLOSE_GRACE_MS = 2000

export class Connection {
  readonly socket: TcpSocket
  readonly outbound: boolean
  // Who the dialler expects at the other end; the handshake must agree.
  readonly expected: NodeAddress | null
  state: ConnectionState
  remote: NodeAddress | null
  incarnation: number
  version: number
  peerMaxFrameBytes: number
  writable: boolean
  refusedAsDuplicate: boolean
  bytesIn: number
  lastDataAt: number
  private _owner: ConnectionOwner
  private _local: LocalIdentity
  private _decoder: FrameDecoder
  private _handshakeTimer: TimerHandle | null
  private _closeTimer: TimerHandle | null
  private _reassembly: Map<number, { parts: Uint8Array[]; received: number; total: number }>
  private _cause: ClusterError | null
  private _settleHandshake: ((cause: ClusterError | null) => void) | null
  private _settleClosed: (() => void) | null
  private _nonce: Uint8Array
  // Listener with a secret: the two sides of the handshake, kept until the dialler's proof.
  private _awaitingAuth: { dialler: HandshakeSide; listener: HandshakeSide } | null
  // Settles when the handshake ends: null once open, the cause if it closed first.
  readonly handshake: Promise<ClusterError | null>
  readonly closed: Promise<void>

  constructor(
    owner: ConnectionOwner,
    socket: TcpSocket,
    local: LocalIdentity,
    opts: { outbound: boolean; expected?: NodeAddress | null; handshakeTimeoutMs: number }
  ) {
    this.socket = socket
    this.outbound = opts.outbound
    this.expected = opts.expected ?? null
    this.state = ConnectionState.HANDSHAKING
    this.remote = null
    this.incarnation = 0
    this.version = 0
    this.peerMaxFrameBytes = local.maxFrameBytes
    this.writable = true
    this.refusedAsDuplicate = false
    this.bytesIn = 0
    this.lastDataAt = Date.now()
    this._owner = owner
    this._local = local
    this._decoder = new FrameDecoder({ maxFrameBytes: Math.min(local.maxFrameBytes, HANDSHAKE_MAX_FRAME_BYTES) })
    this._nonce = randomBytes(NONCE_BYTES)
    this._awaitingAuth = null
    this._reassembly = new Map()
    this._cause = null
    this._closeTimer = null
    this._settleHandshake = null
    this._settleClosed = null
    this.handshake = new Promise((resolve) => {
      this._settleHandshake = resolve
    })
    this.closed = new Promise((resolve) => {
      this._settleClosed = resolve
    })
    this._handshakeTimer = setTimeout(() => {
      this.destroy(ClusterError.HANDSHAKE_TIMEOUT(`no handshake from ${this.describe()} in ${opts.handshakeTimeoutMs} ms`))
    }, opts.handshakeTimeoutMs)

    socket.ondata = (chunk) => this._ondata(chunk)
    socket.ondrain = () => {
      this.writable = true
      if (this.state === ConnectionState.OPEN) this._owner._ondrain(this)
    }
    socket.onend = () => this.end()
    socket.onclose = (cause) => this._onsocketclose(cause)

    if (this.outbound) this._writeNow(this._hello())
  }

  get pendingFrameBytes(): number {
    return this._decoder.pendingFrameBytes
  }

  describe(): string {
    const who = this.remote ?? this.expected
    const where = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`
    return who ? `${who.toString()} (${where})` : where
  }

  // Writes encoded frames; returns false when the socket asks to wait for drain.
  write(data: Uint8Array): boolean {
    if (this.state === ConnectionState.CLOSED) return false
    const ok = this.socket.write(data)
    if (!ok) this.writable = false
    return ok
  }

  // Flush and half-close; the connection closes when the other side ends too (or after a grace).
  end(): void {
    if (this.state === ConnectionState.CLOSED) return
    if (this.state !== ConnectionState.CLOSING) {
      this.state = ConnectionState.CLOSING
      this.socket.end()
    }
    if (this._closeTimer === null) {
      this._closeTimer = setTimeout(() => this.destroy(null), CLOSE_GRACE_MS)
    }
  }

  destroy(cause: ClusterError | null): void {
    if (this.state === ConnectionState.CLOSED) return
    if (cause !== null && this._cause === null) this._cause = cause
    this.socket.destroy(cause)
  }

  // Inbound side: answer the hello with our own; with a secret, prove it and wait for the
  // dialler's proof before opening.
  private _accept(hello: HelloMessage): void {
    const local = this._local
    const dialler: HandshakeSide = { address: hello.from, incarnation: hello.incarnation, nonce: hello.nonce }
    const listener: HandshakeSide = { address: local.address.toString(), incarnation: local.incarnation, nonce: this._nonce }
    const ack: HelloAckMessage = {
      kind: 'hello-ack',
      version: this.version,
      cluster: local.cluster,
      from: listener.address,
      incarnation: local.incarnation,
      maxFrameBytes: local.maxFrameBytes,
      features: this._features(),
      nonce: this._nonce,
      proof: local.secret === null ? null : proveHandshake(local.secret, 'listener', local.cluster, dialler, listener)
    }
    this._writeNow(ack)
    if (local.secret === null) this._open()
    else this._awaitingAuth = { dialler, listener }
  }

  private _refuse(reason: string, cause: ClusterError): void {
    this._writeNow({ kind: 'goodbye', reason })
    this._cause = cause
    this.end()
  }

  private _open(): void {
    this.state = ConnectionState.OPEN
    this._decoder.maxFrameBytes = this._local.maxFrameBytes
    this._clearHandshakeTimer()
    this._settleHandshake?.(null)
    this._settleHandshake = null
    this._owner._onopen(this)
  }

  private _hello(): HelloMessage {
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
      proof: null
    }
  }

  private _features(): number {
    return this._local.secret === null ? 0 : SECRET_FEATURE
  }

  private _writeNow(msg: WireMessage): void {
    this.write(encodeFrame(msg))
  }

  private _ondata(chunk: Uint8Array): void {
    this.bytesIn += chunk.byteLength
    this.lastDataAt = Date.now()
    let messages: WireMessage[]
    try {
      messages = this._decoder.push(chunk)
    } catch (err) {
      this.destroy(asClusterError(err))
      return
    }
    for (let i = 0; i < messages.length; i++) {
      if (this.state === ConnectionState.CLOSED) return
      try {
        this._onmessage(messages[i]!)
      } catch (err) {
        this.destroy(asClusterError(err))
        return
      }
    }
  }

  private _onmessage(msg: WireMessage): void {
    if (this.state === ConnectionState.HANDSHAKING) {
      this._onhandshake(msg)
      return
    }
    switch (msg.kind) {
      case 'hello':
      case 'hello-ack':
        throw ClusterError.HANDSHAKE_FAILED(`second handshake from ${this.describe()}`)
      case 'chunk':
        this._onchunk(msg)
        return
      default:
        this._owner._onmessage(this, msg)
    }
  }

  private _onhandshake(msg: WireMessage): void {
    if (this._awaitingAuth !== null) {
      this._onauth(msg)
      return
    }
    if (msg.kind === 'goodbye') {
      if (msg.reason === DUPLICATE_REASON) this.refusedAsDuplicate = true
      const refused = `${this.describe()} refused the connection: ${msg.reason}`
      throw msg.reason === AUTH_REASON ? ClusterError.AUTH_FAILED(refused) : ClusterError.HANDSHAKE_FAILED(refused)
    }
    if (this.outbound) this._onhelloack(msg)
    else this._onhello(msg)
  }

  // Dialler: the listener's answer, and with a secret its proof, then ours.
  private _onhelloack(msg: WireMessage): void {
    if (msg.kind !== 'hello-ack') throw ClusterError.HANDSHAKE_FAILED(`expected hello-ack, got ${msg.kind}`)
    this._checkCluster(msg.cluster)
    if (msg.version < MIN_WIRE_VERSION || msg.version > WIRE_VERSION) {
      throw ClusterError.BAD_VERSION(`${this.describe()} chose wire version ${msg.version}`)
    }
    const from = NodeAddress.parse(msg.from)
    if (this.expected !== null && !from.equals(this.expected)) {
      throw ClusterError.HANDSHAKE_FAILED(`dialled ${this.expected.toString()} but ${from.toString()} answered`)
    }
    this._identify(from, msg.version, msg.incarnation, msg.maxFrameBytes)
    const local = this._local
    if (local.secret !== null) {
      const dialler: HandshakeSide = { address: local.address.toString(), incarnation: local.incarnation, nonce: this._nonce }
      const listener: HandshakeSide = { address: msg.from, incarnation: msg.incarnation, nonce: msg.nonce }
      if (!checkProof(msg.proof, local.secret, 'listener', local.cluster, dialler, listener)) {
        this._refuse(AUTH_REASON, ClusterError.AUTH_FAILED(`${this.describe()} did not prove the cluster secret`))
        return
      }
      this._writeNow({ kind: 'auth', proof: proveHandshake(local.secret, 'dialler', local.cluster, dialler, listener) })
    } else if (msg.proof !== null || (msg.features & SECRET_FEATURE) !== 0) {
      throw ClusterError.AUTH_FAILED(`${this.describe()} requires a cluster secret this node does not have`)
    }
    this._open()
  }

  // Listener: the dialler's hello.
  private _onhello(msg: WireMessage): void {
    if (msg.kind !== 'hello') throw ClusterError.HANDSHAKE_FAILED(`expected hello, got ${msg.kind}`)
    let version: number
    try {
      version = chooseVersion(msg.minVersion, msg.maxVersion)
    } catch (err) {
      this._refuse('incompatible wire version', asClusterError(err))
      return
    }
    if (msg.cluster !== this._local.cluster) {
      this._refuse('cluster mismatch', mismatch(msg.cluster, this._local.cluster))
      return
    }
    const wantsSecret = (msg.features & SECRET_FEATURE) !== 0
    if (this._local.secret !== null && !wantsSecret) {
      this._refuse(AUTH_REASON, ClusterError.AUTH_FAILED(`${this.describe()} has no cluster secret`))
      return
    }
    if (this._local.secret === null && wantsSecret) {
      this._refuse(AUTH_REASON, ClusterError.AUTH_FAILED(`${this.describe()} expects a cluster secret this node does not have`))
      return
    }
    const from = NodeAddress.parse(msg.from)
    if (from.equals(this._local.address)) {
      throw ClusterError.HANDSHAKE_FAILED(`a peer claims this node's own address ${from.toString()}`)
    }
    this._identify(from, version, msg.incarnation, msg.maxFrameBytes)
    const refusal = this._owner._onhello(this, from, msg)
    if (refusal === null) this._accept(msg)
    else this._refuse(refusal, ClusterError.HANDSHAKE_FAILED(`refused ${from.toString()}: ${refusal}`))
  }

  // Listener with a secret: the dialler's proof, or nothing gets through.
  private _onauth(msg: WireMessage): void {
    const sides = this._awaitingAuth!
    if (msg.kind === 'goodbye') throw ClusterError.AUTH_FAILED(`${this.describe()} refused our proof: ${msg.reason}`)
    if (msg.kind !== 'auth') throw ClusterError.AUTH_FAILED(`expected the dialler's proof, got ${msg.kind}`)
    const local = this._local
    if (!checkProof(msg.proof, local.secret!, 'dialler', local.cluster, sides.dialler, sides.listener)) {
      throw ClusterError.AUTH_FAILED(`${this.describe()} did not prove the cluster secret`)
    }
    this._awaitingAuth = null
    this._open()
  }

  private _identify(from: NodeAddress, version: number, incarnation: number, maxFrameBytes: number): void {
    this.remote = from
    this.version = version
    this.incarnation = incarnation
    this.peerMaxFrameBytes = maxFrameBytes
  }

  private _checkCluster(cluster: string): void {
    if (cluster !== this._local.cluster) throw mismatch(cluster, this._local.cluster)
  }

  private _onchunk(msg: ChunkMessage): void {
    if (msg.totalBytes > this._local.maxFrameBytes) {
      throw ClusterError.FRAME_TOO_LARGE(`chunked envelope of ${msg.totalBytes} bytes exceeds ${this._local.maxFrameBytes}`)
    }
    let r = this._reassembly.get(msg.id)
    if (r === undefined) {
      if (msg.offset !== 0) throw ClusterError.BAD_FRAME(`chunk ${msg.id} starts at offset ${msg.offset}`)
      if (this._reassembly.size >= MAX_REASSEMBLIES) throw ClusterError.BAD_FRAME('too many chunked envelopes at once')
      r = { parts: [], received: 0, total: msg.totalBytes }
      this._reassembly.set(msg.id, r)
    }
    if (msg.offset !== r.received || msg.totalBytes !== r.total || r.received + msg.data.byteLength > r.total) {
      throw ClusterError.BAD_FRAME(`chunk ${msg.id} out of order or inconsistent`)
    }
    // A view, not a copy: it points into a socket chunk or a split-frame buffer, and neither is
    // ever reused (see the TcpBackend contract and FrameDecoder).
    r.parts.push(msg.data)
    r.received += msg.data.byteLength
    if (r.received < r.total) {
      if (msg.data.byteLength === 0) throw ClusterError.BAD_FRAME(`empty chunk in ${msg.id}`)
      return
    }
    this._reassembly.delete(msg.id)
    const whole = concat(r.parts, r.total)
    const inner = decodeMessage(whole)
    if (inner.kind !== 'envelope') throw ClusterError.BAD_FRAME(`chunks carried a ${inner.kind}, not an envelope`)
    this._owner._onmessage(this, inner)
  }

  private _onsocketclose(cause: ClusterError | null): void {
    this.state = ConnectionState.CLOSED
    this._clearHandshakeTimer()
    if (this._closeTimer !== null) clearTimeout(this._closeTimer)
    this._closeTimer = null
    this._reassembly.clear()
    const final = this._cause ?? cause
    this._settleHandshake?.(final ?? ClusterError.CONNECTION_CLOSED('closed during the handshake'))
    this._settleHandshake = null
    this._owner._onclose(this, final)
    this._settleClosed?.()
    this._settleClosed = null
  }

  private _clearHandshakeTimer(): void {
    if (this._handshakeTimer !== null) clearTimeout(this._handshakeTimer)
    this._handshakeTimer = null
  }
}

export function asClusterError(err: unknown): ClusterError {
  if (err instanceof ClusterError) return err
  return ClusterError.BAD_FRAME(err instanceof Error ? err.message : String(err), err)
}

function mismatch(theirs: string, ours: string): ClusterError {
  return ClusterError.CLUSTER_MISMATCH(`peer is in cluster ${JSON.stringify(theirs)}, this node in ${JSON.stringify(ours)}`)
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}
