// The API of gossipmonger's TCP transport, carried over one persistent TcpTransport connection
// per peer instead of a new connection per message, so a gossipmonger user can switch transports
// and keep the rest. Digests and deltas travel as subsystem messages with JSON bodies.

import b4a from 'b4a'
import EventEmitter from 'bare-events'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { TcpTransport, type TcpTransportOptions } from '../transport/tcp-transport.ts'
import type { TransportStats } from '../transport/transport.ts'
import type { WireMessage } from '../wire/index.ts'

export interface GossipmongerPeer {
  id: string
  transport: { host: string; port: number }
}

/** What `GossipmongerTcpTransport.listen` takes. */
export interface GossipmongerTransportOptions {
  /**
   * Where other peers reach this one, as in gossipmonger.
   * @default 'localhost'
   */
  host?: string
  /**
   * The port to listen on, as in gossipmonger.
   * @default 9742
   */
  port?: number
  /**
   * Where the transport logs.
   * @default silent
   */
  log?: Logger
  /**
   * Passed to the TcpTransport underneath (tls, secret, limits...).
   * @default {}
   */
  transport?: Partial<Omit<TcpTransportOptions, 'self'>>
}

/** Events as gossipmonger's TCP transport emits them. */
export interface GossipmongerEventMap {
  /** A peer's digest arrived. */
  digest: [remotePeer: GossipmongerPeer, digest: unknown]
  /** A peer's deltas arrived. */
  deltas: [remotePeer: GossipmongerPeer, deltas: unknown]
  /** Listening or a connection failed. */
  error: [error: Error]
  /** The transport listens. */
  listening: []
}

const SYSTEM = 'gossipmonger'
const CHANNEL = { digest: 'gossipmonger/digest', deltas: 'gossipmonger/deltas' } as const

export class GossipmongerTcpTransport extends EventEmitter<GossipmongerEventMap> {
  host: string
  port: number
  private _opts: GossipmongerTransportOptions
  private _tcp: TcpTransport | null

  /** Creates a transport and starts listening. */
  static listen(options?: GossipmongerTransportOptions | (() => void), callback?: () => void): GossipmongerTcpTransport {
    const opts = typeof options === 'function' ? {} : (options ?? {})
    const cb = typeof options === 'function' ? options : callback
    const transport = new GossipmongerTcpTransport(opts)
    transport.listen(cb)
    return transport
  }

  constructor(options: GossipmongerTransportOptions = {}) {
    super()
    this.host = options.host ?? 'localhost'
    this.port = options.port ?? 9742
    this._opts = options
    this._tcp = null
  }

  /**
   * Listens (on options.host / options.port when given: an inside address behind the advertised
   * one); port 0 picks a free port, then `port` holds it.
   */
  listen(options?: { host?: string; port?: number } | (() => void), callback?: () => void): void {
    const opts = typeof options === 'function' ? {} : (options ?? {})
    const cb = typeof options === 'function' ? options : callback
    const port = opts.port ?? this.port
    const tcp = new TcpTransport({
      heartbeatIntervalMs: 0,
      ...this._opts.transport,
      self: new NodeAddress(SYSTEM, this.host, port),
      listenHost: opts.host ?? this.host,
      log: this._opts.log
    })
    tcp.setHandler((from, msg) => this._onmessage(from, msg))
    tcp.on('drop', (d) => this._error(ClusterError.UNREACHABLE(`${d.kind} to ${d.peer.host}:${d.peer.port} dropped: ${d.reason}`)))
    this._tcp = tcp
    tcp.start().then(
      () => {
        this.port = tcp.self.port
        if (cb) this.once('listening', cb)
        this.emit('listening')
      },
      (err: unknown) => this._error(err instanceof Error ? err : new Error(String(err)))
    )
  }

  close(callback?: () => void): void {
    const tcp = this._tcp
    this._tcp = null
    const done = tcp === null ? Promise.resolve() : tcp.shutdown()
    done.then(() => callback?.(), (err: unknown) => this._error(err as Error))
  }

  /** The connection-level figures of the TcpTransport underneath (null before listen). */
  stats(): TransportStats | null {
    return this._tcp === null ? null : this._tcp.stats()
  }

  digest(remotePeer: GossipmongerPeer, localPeer: GossipmongerPeer, digest: unknown): void {
    this.rpc(remotePeer, { kind: 'digest', localPeer, payload: digest })
  }

  deltas(remotePeer: GossipmongerPeer, localPeer: GossipmongerPeer, deltas: unknown): void {
    this.rpc(remotePeer, { kind: 'deltas', localPeer, payload: deltas })
  }

  /** Reserved for the two above: sends one payload to a peer. */
  rpc(remotePeer: GossipmongerPeer, payload: { kind: 'digest' | 'deltas'; localPeer: GossipmongerPeer; payload: unknown }): void {
    const tcp = this._tcp
    if (tcp === null) {
      this._error(ClusterError.TRANSPORT_CLOSED('listen() first'))
      return
    }
    const to = new NodeAddress(SYSTEM, remotePeer.transport.host, remotePeer.transport.port)
    const body = b4a.from(JSON.stringify({ id: payload.localPeer.id, transport: payload.localPeer.transport, payload: payload.payload }))
    try {
      tcp.send(to, { kind: 'subsystem', channel: CHANNEL[payload.kind], body })
    } catch (err) {
      this._error(err as Error)
    }
  }

  private _onmessage(from: NodeAddress, msg: WireMessage): void {
    if (msg.kind !== 'subsystem') return
    const event = msg.channel === CHANNEL.digest ? 'digest' : msg.channel === CHANNEL.deltas ? 'deltas' : null
    if (event === null) return
    let parsed: { id?: unknown; transport?: { host?: unknown; port?: unknown }; payload?: unknown }
    try {
      parsed = JSON.parse(b4a.toString(msg.body))
    } catch {
      this._error(ClusterError.BAD_FRAME(`undecodable ${event} from ${from.toString()}`))
      return
    }
    const remotePeer: GossipmongerPeer = {
      id: String(parsed.id),
      transport: {
        host: typeof parsed.transport?.host === 'string' ? parsed.transport.host : from.host,
        port: typeof parsed.transport?.port === 'number' ? parsed.transport.port : from.port
      }
    }
    this.emit(event, remotePeer, parsed.payload)
  }

  private _error(err: Error): void {
    // As gossipmonger's transport: an error with nobody listening for it is thrown.
    this.emit('error', err)
  }
}
