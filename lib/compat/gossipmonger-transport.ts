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
  /** A port may be given as a string of digits; peers reported by this transport carry numbers. */
  transport: { host: string; port: number | string }
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
   * Passed to the TcpTransport underneath (tls, secret, limits...). By default a failed dial
   * drops what waits for that peer at once (reported as an error, as gossipmonger's own transport
   * reports each failed connection), and the next message dials again within a second.
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
// Gossip repeats itself: a digest that could not go is replaced by the next one, so the first
// failed dial is worth reporting and the next try should come about a gossip interval later.
// Peers are named by id, and the host:port a peer is known by is only how to reach it
// (`localhost:P` reaches a peer announcing `127.0.0.1:P`), as a seed's address is.
const ADAPTER_DEFAULTS = { maxDialAttempts: 1, backoffMaxMs: 1000, seeds: 'any' } as const

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
      ...ADAPTER_DEFAULTS,
      ...this._opts.transport,
      self: new NodeAddress(SYSTEM, this.host, port),
      listenHost: opts.host ?? this.host,
      log: this._opts.log
    })
    tcp.setHandler((from, msg) => this._onmessage(from, msg))
    tcp.on('drop', (d) => {
      const why = d.reason === 'unreachable' ? 'the dial failed; the next message dials again' : d.reason
      this._error(ClusterError.UNREACHABLE(`a message to ${d.peer.host}:${d.peer.port} was not delivered (${why})`))
    })
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

  /**
   * Reserved for the two above: sends one payload to a peer. Never throws (gossipmonger calls it
   * from its timer): whatever goes wrong is an 'error' event.
   */
  rpc(remotePeer: GossipmongerPeer, payload: { kind: 'digest' | 'deltas'; localPeer: GossipmongerPeer; payload: unknown }): void {
    const tcp = this._tcp
    if (tcp === null) {
      this._error(ClusterError.TRANSPORT_CLOSED('listen() first'))
      return
    }
    try {
      const to = peerAddress(remotePeer)
      if (to === null) {
        this._error(ClusterError.BAD_ADDRESS(`malformed remotePeer ${describePeer(remotePeer)}: it needs transport: { host, port }`))
        return
      }
      let json: string
      try {
        json = JSON.stringify({ id: payload.localPeer.id, transport: payload.localPeer.transport, payload: payload.payload })
      } catch (err) {
        this._error(ClusterError.NOT_SERIALIZABLE(`a ${payload.kind} for ${describePeer(remotePeer)} is not JSON: ${String(err)}`, err))
        return
      }
      tcp.send(to, { kind: 'subsystem', channel: CHANNEL[payload.kind], body: b4a.from(json) })
    } catch (err) {
      this._error(err instanceof Error ? err : ClusterError.BAD_OPTIONS(String(err)))
    }
  }

  private _onmessage(from: NodeAddress, msg: WireMessage): void {
    if (msg.kind !== 'subsystem') return
    const event = msg.channel === CHANNEL.digest ? 'digest' : msg.channel === CHANNEL.deltas ? 'deltas' : null
    if (event === null) return
    let parsed: unknown
    try {
      parsed = JSON.parse(b4a.toString(msg.body))
    } catch {
      parsed = null
    }
    const p = parsed as { id?: unknown; transport?: { host?: unknown; port?: unknown } | null; payload?: unknown } | null
    if (p === null || typeof p !== 'object') {
      this._error(ClusterError.BAD_MESSAGE(`undecodable ${event} from ${from.toString()}`))
      return
    }
    const t = p.transport !== null && typeof p.transport === 'object' ? p.transport : {}
    const port = portOf(t.port)
    const remotePeer: GossipmongerPeer = {
      id: String(p.id),
      transport: {
        host: typeof t.host === 'string' && t.host.length > 0 ? t.host : from.host,
        port: port ?? from.port
      }
    }
    // gossipmonger's listeners trust the payload's shape (a digest that is not an array throws
    // inside them): what they throw is reported, not thrown into the connection.
    try {
      this.emit(event, remotePeer, p.payload)
    } catch (err) {
      this._error(ClusterError.BAD_MESSAGE(`a ${event} from ${from.toString()} failed in its listener: ${String(err)}`, err))
    }
  }

  private _error(err: Error): void {
    // Never thrown: the calls that fail are gossipmonger's, from its timers and handlers.
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else this._opts.log?.warn(`gossipmonger transport: ${err.message}`)
  }
}

// The node address of a gossipmonger peer, or null when it names none. Ports may be strings.
function peerAddress(peer: unknown): NodeAddress | null {
  if (peer === null || typeof peer !== 'object') return null
  const t = (peer as { transport?: unknown }).transport
  if (t === null || typeof t !== 'object') return null
  const { host, port } = t as { host?: unknown; port?: unknown }
  const p = portOf(port)
  if (typeof host !== 'string' || host.length === 0 || p === null) return null
  return new NodeAddress(SYSTEM, host, p)
}

function portOf(port: unknown): number | null {
  const n = typeof port === 'string' && /^[0-9]{1,5}$/.test(port) ? Number(port) : port
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536 ? n : null
}

function describePeer(peer: unknown): string {
  try {
    return (JSON.stringify(peer) ?? String(peer)).slice(0, 200)
  } catch {
    return String(peer)
  }
}
