// Which local paths peers may address: every user actor, and of the system's only the paths
// this node serves. The rule is the actor system's, so it holds over every transport alike.

import type { NodeAddress } from '../node-address.ts'
import { DropReason, type MessageHandler, type ObservableTransport } from '../transport/transport.ts'
import type { EnvelopeMessage } from '../wire/index.ts'

const SYSTEM = '/system/'

/** A test of an envelope's recipient: true when peers may address it. */
export type RecipientRule = (to: string) => boolean

/**
 * The rule for a node that serves `systemPaths` (default none) under /system/: any recipient
 * outside /system/ passes, and of those inside only the paths listed.
 */
export function systemRecipientRule(systemPaths: Iterable<string> = []): RecipientRule {
  const allowed = new Set(systemPaths)
  return (to) => {
    const at = to.indexOf(SYSTEM)
    return at === -1 || allowed.has(to.slice(at))
  }
}

/**
 * Wraps a transport handler so envelopes to recipients the rule refuses never reach it: each is
 * refused through the transport, counted in its stats as `drops['forbidden-recipient']` and
 * emitted as 'drop'. For a node that takes envelopes from a transport without an actor system.
 */
export function guardRecipients(transport: ObservableTransport, handler: MessageHandler, rule: RecipientRule): MessageHandler {
  return (from, msg) => {
    if (msg.kind === 'envelope' && refused(transport, rule, from, msg)) return
    handler(from, msg)
  }
}

/** Refuses the envelope through the transport if the rule says so; true when it did. */
export function refused(transport: ObservableTransport, rule: RecipientRule, from: NodeAddress, msg: EnvelopeMessage): boolean {
  if (rule(msg.to)) return false
  transport.refuse(from, msg, DropReason.FORBIDDEN_RECIPIENT)
  return true
}
