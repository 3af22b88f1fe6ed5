// Messages that reached no actor: why, and the error an ask waiting on such a message fails with.

import { ClusterError } from '../errors.ts'
import type { ActorRef } from './actor-ref.ts'

export type DeadLetterReason =
  // No actor at the path (never was, or stopped before the message came).
  | 'no-recipient'
  // The actor stopped with the message still in its mailbox.
  | 'stopped'
  | 'mailbox-full'
  // The recipient's node is down or has left the cluster.
  | 'node-gone'
  // The system has no cluster, so no other node can be reached.
  | 'no-cluster'
  // A reply with nobody to reply to.
  | 'no-sender'
  // A message from a peer in a format nobody registered here.
  | 'unknown-manifest'
  // The transport could not take the message (shut down, or the peer's queue is full).
  | 'undeliverable'
  | 'system-stopped'

export interface DeadLetter {
  recipient: string
  message: unknown
  sender: ActorRef | null
  reason: DeadLetterReason
}

/** What an ask whose message became a dead letter for `reason` fails with. */
export function deadLetterError(recipient: string, reason: DeadLetterReason): ClusterError {
  switch (reason) {
    case 'no-recipient':
    case 'stopped':
      return ClusterError.NO_RECIPIENT(`no actor at ${recipient}`)
    case 'mailbox-full':
      return ClusterError.QUEUE_FULL(`the mailbox of ${recipient} is full`)
    case 'node-gone':
    case 'no-cluster':
    case 'undeliverable':
      return ClusterError.UNREACHABLE(`${recipient} cannot be reached (${reason})`)
    case 'system-stopped':
      return ClusterError.SYSTEM_STOPPED(`${recipient}: the system is stopped`)
    default:
      return ClusterError.NO_RECIPIENT(`${recipient}: ${reason}`)
  }
}
