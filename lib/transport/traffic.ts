// What every transport does at its edges, written once so the transports cannot drift: the
// checks a message passes before it is queued, the dispatch of what arrives (heartbeats
// answered and timed, goodbyes noted, the rest handed up), the sum of per-peer stats and the
// counts of messages no peer holds.

import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import { FRAME_HEADER_BYTES, LINK_KINDS, TRANSPORT_KINDS, messageSize } from '../wire/index.ts'
import type { WireKind, WireMessage } from '../wire/index.ts'
import { DropReason, countDrop, emptyPeerStats, type DeliveryStats, type MessageHandler, type PeerStats, type TransportStats } from './transport.ts'

/**
 * The encoded size of a message a caller asks to send; refuses the transport's own kinds and
 * what cannot be encoded (BAD_OPTIONS).
 */
export function sendSize(msg: WireMessage): number {
  if (TRANSPORT_KINDS.has(msg.kind)) throw ClusterError.BAD_OPTIONS(`${msg.kind} frames are the transport's own`)
  try {
    return messageSize(msg)
  } catch (err) {
    throw ClusterError.BAD_OPTIONS(`cannot encode ${String(msg.kind)} message: ${ClusterError.from(err, 'BAD_OPTIONS').message}`)
  }
}

/** Refuses (FRAME_TOO_LARGE) a message that can never fit the receiver's frame limit. */
export function checkFits(msg: WireMessage, size: number, limit: number, to: NodeAddress): void {
  if (size + FRAME_HEADER_BYTES > limit) {
    throw ClusterError.FRAME_TOO_LARGE(`${msg.kind} of ${size} bytes does not fit ${to.toString()}'s frame limit of ${limit}`)
  }
}

/** What dispatch needs of its transport. */
export interface Receiver {
  readonly handler: MessageHandler | null
  readonly log: Logger
  /** Sends a message back to the peer (the answer to a heartbeat). */
  reply(to: NodeAddress, msg: WireMessage): void
  /** A heartbeat of ours came back after `rttMs`. */
  onheartbeat(from: NodeAddress, rttMs: number): void
  /** A message that arrived and was not handed up, for `reason`. */
  drop(from: NodeAddress, msg: WireMessage, reason: DropReason): void
}

/**
 * Handles one message from a peer whose stats are `stats`. A heartbeat is answered at once and
 * still handed up (hearing from a peer at all says it is alive); an ack is timed and reported,
 * not handed up; a goodbye is the peer's business only.
 */
export function dispatch(r: Receiver, from: NodeAddress, stats: PeerStats, msg: WireMessage): void {
  switch (msg.kind) {
    case 'heartbeat':
      r.reply(from, { kind: 'heartbeat-ack', seq: msg.seq, sentAt: msg.sentAt })
      break
    case 'heartbeat-ack': {
      const rtt = Math.max(0, now() - msg.sentAt)
      stats.rttMs = rtt
      r.onheartbeat(from, rtt)
      return
    }
    case 'goodbye':
      r.log.debug(`${from.toString()} said goodbye: ${msg.reason}`)
      return
  }
  const handler = r.handler
  if (handler === null) {
    r.drop(from, msg, DropReason.NO_HANDLER)
    return
  }
  try {
    handler(from, msg)
  } catch (err) {
    r.log.error(`message handler threw on a ${msg.kind} from ${from.toString()}`, err)
  }
}

/**
 * What a transport counts of messages no peer holds (sent before start or after shutdown, or
 * refused from a node it does not know), kept apart and added to its totals.
 */
export class OrphanCounts {
  readonly drops: Partial<Record<DropReason, number>>
  /** The same messages in the delivery counts (link frames are not counted there). */
  readonly delivery: DeliveryStats

  constructor() {
    this.drops = {}
    this.delivery = emptyPeerStats('').delivery
  }

  /** A message handed to send that no peer takes, dropped for `reason`. */
  sent(kind: WireKind, reason: DropReason): void {
    if (!LINK_KINDS.has(kind)) {
      this.delivery.sent++
      countDrop(this.delivery.dropped, reason)
    }
    countDrop(this.drops, reason)
  }

  /** A message from a node with no peer state, refused for `reason`. */
  refused(reason: DropReason): void {
    countDrop(this.drops, reason)
  }

  /** A copy of the delivery counts as they stand. */
  deliveryCopy(): DeliveryStats {
    return { ...this.delivery, dropped: { ...this.delivery.dropped } }
  }
}

/** A transport's totals: the sum of its peers' stats on top of what it counts itself. */
export function sumStats(
  base: Omit<TransportStats, 'peers' | 'bytesIn' | 'bytesOut' | 'framesIn' | 'framesOut' | 'reconnects' | 'delivery'> & { delivery?: DeliveryStats },
  peers: Iterable<PeerStats>,
  orphanDrops: Partial<Record<DropReason, number>>
): TransportStats {
  const delivery = addDelivery(emptyPeerStats('').delivery, base.delivery)
  const total: TransportStats = { ...base, peers: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, reconnects: 0, drops: { ...base.drops }, delivery }
  for (const s of peers) {
    if (s.connected) total.peers++
    total.queuedBytes += s.queuedBytes
    addCounts(total, s)
  }
  addDrops(total.drops, orphanDrops)
  return total
}

/** Adds the counts of a peer that is forgotten to `into`, so the transport's totals keep them. */
export function retire(into: PeerStats, s: PeerStats): void {
  addCounts(into, s)
}

// The counters a peer and a transport's totals share.
type Counts = Pick<PeerStats, 'bytesIn' | 'bytesOut' | 'framesIn' | 'framesOut' | 'reconnects' | 'handshakeFailures' | 'drops' | 'delivery'>

function addCounts(into: Counts, s: Counts): void {
  into.bytesIn += s.bytesIn
  into.bytesOut += s.bytesOut
  into.framesIn += s.framesIn
  into.framesOut += s.framesOut
  into.reconnects += s.reconnects
  into.handshakeFailures += s.handshakeFailures
  addDrops(into.drops, s.drops)
  addDelivery(into.delivery, s.delivery)
}

function addDelivery(into: DeliveryStats, from: DeliveryStats | undefined): DeliveryStats {
  if (from === undefined) return into
  into.sent += from.sent
  into.delivered += from.delivered
  into.pending += from.pending
  into.unackedBytes += from.unackedBytes
  into.duplicates += from.duplicates
  addDrops(into.dropped, from.dropped)
  return into
}

function addDrops(into: Partial<Record<DropReason, number>>, from: Partial<Record<DropReason, number>>): void {
  for (const [reason, n] of Object.entries(from)) {
    into[reason as DropReason] = (into[reason as DropReason] ?? 0) + (n ?? 0)
  }
}
