// One socket between this node and another: frame decoding, chunk reassembly, the numbering of
// the frames that arrive (from the peer's `resume` on), and writes. The
// handshake's decisions are the Handshake's (handshake.ts); what to do with an open connection
// (which peer it belongs to, which of two wins, what to send) is the transport's, told through
// ConnectionOwner.

import type { TcpSocket } from '../../backends/types.ts'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import { decodeMessage, encodeFrame, FrameDecoder } from '../wire/index.ts'
import type { ChunkMessage, HelloMessage, WireMessage } from '../wire/index.ts'
import { Handshake, type HandshakeStep, type LocalIdentity } from './handshake.ts'

export type { LocalIdentity } from './handshake.ts'
export { DUPLICATE_REASON } from './handshake.ts'

export interface ConnectionOwner {
  /**
   * An inbound hello passed validation: null accepts it, a string or an error refuses it.
   * @internal
   */
  _onhello(conn: Connection, from: NodeAddress, hello: HelloMessage): string | ClusterError | null
  /**
   * What this node delivered of `remote`'s numbered frames, for the handshake to tell it: the
   * incarnation counted and the highest number (null: nothing). A side that forgot the peer
   * numbers on from there, so nothing it sends is taken for a duplicate.
   * @internal
   */
  _delivered(remote: NodeAddress): { incarnation: number; delivered: number } | null
  /** @internal */
  _onopen(conn: Connection): void
  /** @internal */
  _onmessage(conn: Connection, msg: WireMessage): void
  /** @internal */
  _ondrain(conn: Connection): void
  /** @internal */
  _onclose(conn: Connection, cause: ClusterError | null): void
}

export const ConnectionState = {
  HANDSHAKING: 'handshaking',
  OPEN: 'open',
  CLOSING: 'closing',
  CLOSED: 'closed'
} as const

export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState]

const MAX_REASSEMBLIES = 4

/** Bytes held in unfinished chunked messages on all of a transport's connections together. */
export interface ReassemblyBudget {
  held: number
  readonly max: number
}
/**
 * Until the handshake is done a stranger may send no frame larger than this (a hello is well
 * under 1 KiB), so unauthenticated connections cannot make a node buffer megabytes each.
 */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024
const TLS_HANDSHAKE = 0x16
const TLS_ALERT = 0x15
// Record: alert, TLS 1.2, 2 bytes: fatal (2), protocol_version (70).
const TLS_PROTOCOL_VERSION_ALERT = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
const CLOSE_GRACE_MS = 2000

export class Connection {
  readonly socket: TcpSocket
  readonly outbound: boolean
  readonly handshaker: Handshake
  state: ConnectionState
  // What the handshake learnt of the other side (copied after each step: read per frame).
  remote: NodeAddress | null
  incarnation: number
  version: number
  peerMaxFrameBytes: number
  refusedAsDuplicate: boolean
  /** What the other side's handshake said it delivered of this node's current run's frames. */
  peerAck: number
  /**
   * The number of the message being handed to the owner now (0: a frame that takes none). Numbers
   * run from the other side's `resume` on; a chunked message takes one with its last piece.
   */
  rxSeq: number
  /** The number the next numbered frame takes; 0 until the other side's `resume`. */
  rxNext: number
  writable: boolean
  bytesIn: number
  /** When data last arrived, on the monotonic clock. */
  lastDataAt: number
  private _owner: ConnectionOwner
  private _local: LocalIdentity
  private _decoder: FrameDecoder
  private _handshakeTimer: TimerHandle | null
  private _closeTimer: TimerHandle | null
  private _reassembly: Map<number, { parts: Uint8Array[]; received: number; total: number }>
  private _reassemblyBytes: number
  private _budget: ReassemblyBudget
  /** When a chunk last added to a reassembly, on the monotonic clock. */
  reassemblyProgressAt: number
  private _cause: ClusterError | null
  // The other side ended the connection (as opposed to this side giving it up).
  private _endedThere: boolean
  private _opened: boolean
  private _settleHandshake: ((cause: ClusterError | null) => void) | null
  private _settleClosed: (() => void) | null
  /** Settles when the handshake ends: null once open, the cause if it closed first. */
  readonly handshake: Promise<ClusterError | null>
  readonly closed: Promise<void>

  constructor(
    owner: ConnectionOwner,
    socket: TcpSocket,
    local: LocalIdentity,
    opts: {
      outbound: boolean
      expected?: NodeAddress | null
      // The expected address is a seed's: only how to reach it, not its name.
      anyName?: boolean
      handshakeTimeoutMs: number
      reassembly?: ReassemblyBudget
    }
  ) {
    this.socket = socket
    this.outbound = opts.outbound
    this.handshaker = new Handshake(local, {
      outbound: opts.outbound,
      expected: opts.expected ?? null,
      anyName: opts.anyName === true,
      accept: (from, hello) => owner._onhello(this, from, hello),
      delivered: (remote) => owner._delivered(remote),
      describe: () => this.describe()
    })
    this.state = ConnectionState.HANDSHAKING
    this.remote = null
    this.incarnation = 0
    this.version = 0
    this.peerMaxFrameBytes = local.maxFrameBytes
    this.refusedAsDuplicate = false
    this.peerAck = 0
    this.rxSeq = 0
    this.rxNext = 0
    this._opened = false
    this.writable = true
    this.bytesIn = 0
    this.lastDataAt = now()
    this._owner = owner
    this._local = local
    this._decoder = new FrameDecoder({ maxFrameBytes: Math.min(local.maxFrameBytes, HANDSHAKE_MAX_FRAME_BYTES) })
    this._reassembly = new Map()
    this._reassemblyBytes = 0
    this._budget = opts.reassembly ?? { held: 0, max: Infinity }
    this.reassemblyProgressAt = 0
    this._cause = null
    this._endedThere = false
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
      this._handshakeTimer = null
      this._step(this.handshaker.timeout(opts.handshakeTimeoutMs, this.describe()))
    }, opts.handshakeTimeoutMs)

    socket.ondata = (chunk) => this._ondata(chunk)
    socket.ondrain = () => {
      this.writable = true
      if (this.state === ConnectionState.OPEN) this._owner._ondrain(this)
    }
    socket.onend = () => {
      this._endedThere = true
      this.end()
    }
    socket.onclose = (cause) => this._onsocketclose(cause)

    const hello = this.handshaker.start()
    if (hello !== null) this._writeNow(hello)
  }

  /** Who the dialler expects at the other end. */
  get expected(): NodeAddress | null {
    return this.handshaker.expected
  }

  get pendingFrameBytes(): number {
    return this._decoder.pendingFrameBytes
  }

  /** Bytes held for chunked messages not yet complete. */
  get reassemblyBytes(): number {
    return this._reassemblyBytes
  }

  describe(): string {
    const who = this.remote ?? this.expected
    const where = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`
    return who ? `${who.toString()} (${where})` : where
  }

  /** Writes encoded frames; returns false when the socket asks to wait for drain. */
  write(data: Uint8Array): boolean {
    if (this.state === ConnectionState.CLOSED) return false
    const ok = this.socket.write(data)
    if (!ok) this.writable = false
    return ok
  }

  /**
   * Flush and half-close; the connection closes when the other side ends too (or after a grace).
   */
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

  /** Carries out what the handshake asked for. */
  private _step(step: HandshakeStep): void {
    const hs = this.handshaker
    this.remote = hs.remote
    this.incarnation = hs.incarnation
    this.version = hs.version
    this.peerMaxFrameBytes = hs.peerMaxFrameBytes
    this.refusedAsDuplicate = hs.refusedAsDuplicate
    this.peerAck = hs.peerAck
    if (step.send !== null) this._writeNow(step.send)
    switch (step.then) {
      case 'open':
        this._open()
        return
      case 'end':
        if (this._cause === null) this._cause = step.error
        this.end()
        return
      case 'destroy':
        this.destroy(step.error)
    }
  }

  private _open(): void {
    this._opened = true
    this.state = ConnectionState.OPEN
    this._decoder.maxFrameBytes = this._local.maxFrameBytes
    this._clearHandshakeTimer()
    this._settleHandshake?.(null)
    this._settleHandshake = null
    this._owner._onopen(this)
  }

  private _writeNow(msg: WireMessage): void {
    this.write(encodeFrame(msg))
  }

  private _ondata(chunk: Uint8Array): void {
    this.bytesIn += chunk.byteLength
    this.lastDataAt = now()
    let messages: WireMessage[]
    try {
      messages = this._decoder.push(chunk)
    } catch (err) {
      // A TLS record where a hello should be: the other side has TLS set and this one not.
      if (this.state === ConnectionState.HANDSHAKING && this.bytesIn === chunk.byteLength && looksLikeTls(chunk)) {
        if (this._cause === null) this._cause = ClusterError.TLS_MISMATCH(`peer ${this.describe()} speaks TLS and this node does not`)
        // A TLS alert in the clear (fatal, protocol_version), so its TLS side fails at once and
        // says why rather than waiting out its connect timeout.
        if (chunk[0] === TLS_HANDSHAKE) this.socket.write(TLS_PROTOCOL_VERSION_ALERT.slice())
        this.end()
        return
      }
      this.destroy(ClusterError.from(err, 'BAD_FRAME'))
      return
    }
    for (let i = 0; i < messages.length; i++) {
      if (this.state === ConnectionState.CLOSED) return
      try {
        this._onmessage(messages[i]!)
      } catch (err) {
        this.destroy(ClusterError.from(err, 'BAD_FRAME'))
        return
      }
    }
  }

  private _onmessage(msg: WireMessage): void {
    // Until the handshake opens the connection nothing reaches the owner, and after a refusal
    // nothing at all: a refused dialler's next frames are not traffic.
    if (!this._opened) {
      if (!this.handshaker.done) this._step(this.handshaker.receive(msg))
      return
    }
    switch (msg.kind) {
      case 'hello':
      case 'hello-ack':
      case 'auth':
        throw ClusterError.HANDSHAKE_FAILED(`second handshake from ${this.describe()}`)
      case 'chunk':
        this._onchunk(msg)
        return
      case 'resume':
        if (msg.next < 1) throw ClusterError.BAD_FRAME(`resume at ${msg.next}`)
        this.rxNext = msg.next
        this.rxSeq = 0
        this._owner._onmessage(this, msg)
        return
      case 'heartbeat':
      case 'heartbeat-ack':
      case 'goodbye':
      case 'ack':
        this.rxSeq = 0
        this._owner._onmessage(this, msg)
        return
      default:
        this.rxSeq = this._number()
        this._owner._onmessage(this, msg)
    }
  }

  // The next number; a numbered frame before the other side said where numbers start is refused.
  private _number(): number {
    if (this.rxNext === 0) throw ClusterError.BAD_FRAME(`a numbered frame from ${this.describe()} before its resume`)
    return this.rxNext++
  }

  private _onchunk(msg: ChunkMessage): void {
    if (this.rxNext === 0) throw ClusterError.BAD_FRAME(`a chunk from ${this.describe()} before its resume`)
    if (msg.totalBytes > this._local.maxFrameBytes) {
      throw ClusterError.FRAME_TOO_LARGE(`chunked message of ${msg.totalBytes} bytes exceeds ${this._local.maxFrameBytes}`)
    }
    let r = this._reassembly.get(msg.id)
    if (r === undefined) {
      if (msg.offset !== 0) throw ClusterError.BAD_FRAME(`chunk ${msg.id} starts at offset ${msg.offset}`)
      if (this._reassembly.size >= MAX_REASSEMBLIES) throw ClusterError.BAD_FRAME('too many chunked messages at once')
      r = { parts: [], received: 0, total: msg.totalBytes }
      this._reassembly.set(msg.id, r)
    }
    if (msg.offset !== r.received || msg.totalBytes !== r.total || r.received + msg.data.byteLength > r.total) {
      throw ClusterError.BAD_FRAME(`chunk ${msg.id} out of order or inconsistent`)
    }
    // A sender has one large message in flight at a time: one frame's worth per connection, and
    // the transport's budget across them all.
    const n = msg.data.byteLength
    if (this._reassemblyBytes + n > this._local.maxFrameBytes) {
      throw ClusterError.FRAME_TOO_LARGE(`chunked messages from ${this.describe()} hold more than ${this._local.maxFrameBytes} bytes`)
    }
    if (this._budget.held + n > this._budget.max) {
      throw ClusterError.REASSEMBLY_FULL(`chunked messages being joined would hold more than ${this._budget.max} bytes`)
    }
    this._reassemblyBytes += n
    this._budget.held += n
    this.reassemblyProgressAt = now()
    // A view, not a copy: it points into a socket chunk or a split-frame buffer, and neither is
    // ever reused (see the TcpBackend contract and FrameDecoder).
    r.parts.push(msg.data)
    r.received += n
    if (r.received < r.total) {
      if (msg.data.byteLength === 0) throw ClusterError.BAD_FRAME(`empty chunk in ${msg.id}`)
      return
    }
    this._reassembly.delete(msg.id)
    this._reassemblyBytes -= r.total
    this._budget.held -= r.total
    const whole = concat(r.parts, r.total)
    const inner = decodeMessage(whole)
    // The sender chunks whatever rides the envelope lane: envelopes and channel messages.
    if (inner.kind !== 'envelope' && inner.kind !== 'subsystem') {
      throw ClusterError.BAD_FRAME(`chunks carried a ${inner.kind}, not an envelope or a channel message`)
    }
    this.rxSeq = this._number()
    this._owner._onmessage(this, inner)
  }

  private _onsocketclose(cause: ClusterError | null): void {
    this.state = ConnectionState.CLOSED
    this._clearHandshakeTimer()
    if (this._closeTimer !== null) clearTimeout(this._closeTimer)
    this._closeTimer = null
    this._reassembly.clear()
    this._budget.held -= this._reassemblyBytes
    this._reassemblyBytes = 0
    let final = this._cause ?? cause
    if (final === null && this._endedThere && this.outbound && this._settleHandshake !== null && this.bytesIn === 0 && !this.socket.encrypted) {
      // A listener of ours answers a hello, if only to refuse it; a TLS listener hangs up on it.
      final = ClusterError.CONNECTION_CLOSED(`peer ${this.describe()} closed the connection without answering the hello: is TLS set there and not here?`)
    }
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

// A TLS record: content type 21 (alert) or 22 (handshake), major version 3, minor 0 to 4.
function looksLikeTls(chunk: Uint8Array): boolean {
  return chunk.byteLength >= 3 && (chunk[0] === TLS_HANDSHAKE || chunk[0] === TLS_ALERT) && chunk[1] === 0x03 && chunk[2]! <= 0x04
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
