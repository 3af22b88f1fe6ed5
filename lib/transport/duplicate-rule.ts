// Which of two connections to one peer survives, decided when a peer's hello arrives on a
// connection it dialled: a restart (a strictly larger incarnation) replaces the open connection;
// a dial that crossed one of ours is settled the same way on both sides (the lower address's
// dial wins); a hello in the name of a live peer that is not a restart is refused as stale
// unless a cluster secret proved it.

import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { HelloMessage } from '../wire/index.ts'
import { DUPLICATE_REASON, type Connection } from './connection.ts'
import type { Peer } from './peer.ts'

export interface DuplicateRuleContext {
  /** This node's address: the lower of two addresses keeps its own dial. */
  self: NodeAddress
  /** Whether hellos are proven by a cluster secret before a connection opens. */
  secret: boolean
  log: Logger
}

/**
 * The verdict on an inbound hello from `from` for the peer on record under its address: null
 * accepts the connection, `DUPLICATE_REASON` refuses it as the loser of two crossing dials, a
 * `STALE_INCARNATION` error refuses a hello that would take a live peer's connection.
 */
export function duplicateVerdict(
  ctx: DuplicateRuleContext,
  conn: Connection,
  from: NodeAddress,
  hello: HelloMessage,
  peer: Peer | undefined
): string | ClusterError | null {
  if (peer === undefined) return null
  const open = peer.conn
  if (open !== null && open !== conn) {
    // A restart is a strictly larger incarnation: the new connection replaces the old.
    if (hello.incarnation > open.incarnation) return null
    // This side dialled and is already open: the peer's dial crossed it.
    if (hello.incarnation === open.incarnation && open.outbound) return DUPLICATE_REASON
    // With a secret the hello is proven before the connection opens, so this is the peer
    // itself redialling a connection it lost (this side has not noticed yet): it replaces
    // the old one. Without one, it would hand a live peer's traffic to whoever says hello in
    // its name: refused, and the peer, if it is the peer, dials again once the old one closed.
    if (ctx.secret) return null
    return stale(ctx.log, from, hello.incarnation, open.incarnation)
  }
  // Both dialling at once: the dial from the lower address wins, on both sides. (Our own dial
  // is given up only once this one has finished its handshake, when it opens.)
  if ((peer.dialing !== null || peer.dialInFlight) && ctx.self.key < from.key) return DUPLICATE_REASON
  return null
}

function stale(log: Logger, from: NodeAddress, incarnation: number, live: number): ClusterError {
  log.warn(`refused a hello in the name of ${from.toString()}: incarnation ${incarnation}, and it is connected with ${live}`)
  return ClusterError.STALE_INCARNATION(
    `${from.toString()} is connected with incarnation ${live}; a hello with ${incarnation} is not a restart`
  )
}
