// One dial of TcpTransport: the socket, the Connection over it, and its handshake to the end,
// telling the dialer how it went. Which peers are dialled when, and how often, is the dialer's.

import type { TcpBackend, TlsSettings } from '../../backends/types.ts'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import { Connection, ConnectionState, type ConnectionOwner, type LocalIdentity, type ReassemblyBudget } from './connection.ts'
import type { Dialer } from './dialer.ts'
import type { Peer } from './peer.ts'

// How soon a dial refused as the loser of two crossing dials is tried again, if the winner fails.
const DUPLICATE_RETRY_MS = 200

/** What a dial needs of its transport. */
export interface DialSite {
  backend: TcpBackend
  tls: TlsSettings | null
  connectTimeoutMs: number
  handshakeTimeoutMs: number
  reassembly: ReassemblyBudget
  owner: ConnectionOwner
  dialer: Dialer
  log: Logger
  /** This node's identity once listening, else null (no dial then). */
  local(): LocalIdentity | null
  /** Whether the transport is shutting down (a dial then only carries what is queued). */
  closing(): boolean
  /** Whether `peer` is still the one on record for its address. */
  current(peer: Peer): boolean
  /** Whether the address is a seed's, which may announce another name. */
  isSeed(address: NodeAddress): boolean
  /** Takes a new connection into the transport's set (stall checks, shutdown). */
  track(conn: Connection): void
}

/** Dials `peer` once; settles when the connection is open or has failed. */
export async function dialOnce(site: DialSite, peer: Peer): Promise<void> {
  const local = site.local()
  if (local === null) return
  peer.dialInFlight = true
  const target = peer.address
  site.log.debug(`dialling ${target.toString()}`)
  let conn: Connection
  try {
    const socket = await site.backend.connect({
      host: target.host,
      port: target.port,
      tls: site.tls,
      timeoutMs: site.connectTimeoutMs
    })
    const unwanted = site.closing() && !peer.pending
    if (unwanted || !site.current(peer) || peer.conn !== null) {
      peer.dialInFlight = false
      socket.destroy(null)
      return
    }
    conn = new Connection(site.owner, socket, local, {
      outbound: true,
      expected: target,
      anyName: site.isSeed(target),
      handshakeTimeoutMs: site.handshakeTimeoutMs,
      reassembly: site.reassembly
    })
  } catch (err) {
    peer.dialInFlight = false
    site.dialer.failed(peer, ClusterError.from(err, 'CONNECT_FAILED'), false)
    return
  }
  peer.dialInFlight = false
  peer.dialing = conn
  site.track(conn)
  const cause = await conn.handshake
  if (peer.dialing === conn) peer.dialing = null
  if (conn.state === ConnectionState.OPEN || conn.state === ConnectionState.CLOSING) return
  if (conn.refusedAsDuplicate) {
    // The other side kept the connection it dialled; ours only waits in case that one fails.
    if (peer.conn === null && peer.pending && !site.closing()) peer.scheduleRedial(DUPLICATE_RETRY_MS)
    return
  }
  site.dialer.failed(peer, cause ?? ClusterError.CONNECTION_CLOSED('closed during the handshake'), true)
}
