// What a transport does alike, whatever carries its connections, when one of them opens, brings
// a frame, drains or closes: the peer takes the connection (the one it replaces ends after its
// writes), a restart is told, frames go up through the dispatch, and a closed link is told.
// TcpTransport and SwarmTransport answer their ConnectionOwner calls through it; which
// connection to take, and how to get another, stays theirs.

import type EventEmitter from 'bare-events'
import type { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { WireMessage } from '../wire/index.ts'
import type { Connection } from './connection.ts'
import type { Peer } from './peer.ts'
import type { PeerTable } from './peer-table.ts'
import { dispatch, type Receiver } from './traffic.ts'
import type { DropReason, MessageHandler, TransportEventMap } from './transport.ts'

/** The transport a PeerLinks works for: its events, and how it sends and refuses. */
export interface LinkOwner extends EventEmitter<TransportEventMap> {
  send(to: NodeAddress, msg: WireMessage): void
  refuse(from: NodeAddress, msg: WireMessage, reason: DropReason): void
}

export class PeerLinks {
  private _peers: PeerTable
  private _log: Logger
  private _owner: LinkOwner
  /** Where frames from peers go (the handler, replies, heartbeat acks, refusals). */
  private _receiver: Receiver

  constructor(peers: PeerTable, log: Logger, owner: LinkOwner) {
    this._peers = peers
    this._log = log
    this._owner = owner
    this._receiver = {
      handler: null,
      log,
      reply: (to, msg) => owner.send(to, msg),
      onheartbeat: (from, rttMs) => owner.emit('heartbeat', from, rttMs),
      drop: (from, msg, reason) => owner.refuse(from, msg, reason)
    }
  }

  /** Messages from peers go to `handler` from now on. */
  setHandler(handler: MessageHandler): void {
    this._receiver = { ...this._receiver, handler }
  }

  /** What this node delivered of `remote`'s numbered frames, for the handshake to tell it. */
  delivered(remote: NodeAddress): { incarnation: number; delivered: number } | null {
    const peer = this._peers.get(remote.key)
    return peer === undefined ? null : { incarnation: peer.ledger.from, delivered: peer.ledger.highest }
  }

  /**
   * `conn` finished its handshake and is `peer`'s link now: the connection it replaces ends after
   * its writes, a new incarnation is told as a restart, and what waits is written. `onattached`
   * runs once the peer holds the connection, before anything is told.
   */
  opened(peer: Peer, conn: Connection, onattached: (() => void) | null = null): void {
    const remote = conn.remote!
    const before = peer.stats.incarnation
    const previous = peer.attach(conn)
    if (onattached !== null) onattached()
    if (previous !== null) {
      this._log.debug(`replacing connection to ${remote.toString()}`)
      previous.end()
    }
    if (before !== null && before !== conn.incarnation) {
      this._log.info(`${remote.toString()} restarted (incarnation ${conn.incarnation})`)
      this._owner.emit('peer-restarted', remote, conn.incarnation, before)
    }
    this._log.debug(`connected ${conn.outbound ? 'to' : 'from'} ${conn.describe()}, wire version ${conn.version}`)
    this._owner.emit('peer-connected', remote, conn.incarnation)
    peer.flush()
  }

  /** A frame on an open connection: the peer's ledger first, then up. */
  message(conn: Connection, msg: WireMessage): void {
    const remote = conn.remote
    const peer = remote === null ? undefined : this._peers.get(remote.key)
    if (peer === undefined || !peer.received(conn, msg)) return
    dispatch(this._receiver, peer.address, peer.stats, msg)
  }

  /** The socket takes writes again: the peer whose link it is writes what waits. */
  drain(conn: Connection): void {
    const peer = conn.remote === null ? undefined : this._peers.get(conn.remote.key)
    if (peer !== undefined && peer.conn === conn) peer.flush()
  }

  /** `conn` closed; if it was `peer`'s link that is told, and true returned. */
  closed(peer: Peer, conn: Connection, cause: ClusterError | null): boolean {
    if (!peer.detach(conn)) return false
    this._log.debug(`closed ${conn.describe()}${cause ? `: ${cause.message}` : ''}`)
    this._owner.emit('peer-disconnected', peer.address, cause)
    return true
  }
}
