// The actor system's counters as metric families, added to `cluster.metrics()` when it joins.

import { counter, counterBy, gauge, type MetricFamily } from '../cluster/metrics.ts'
import type { ActorSystemStats } from './actor-system.ts'

export function actorFamilies(s: ActorSystemStats): MetricFamily[] {
  const out: MetricFamily[] = [
    gauge('actors', 'Actors running on this node.', s.actors),
    gauge('asks_pending', 'Asks waiting for an answer.', s.asksPending),
    counterBy('dead_letters_total', 'Messages that reached no actor, by reason.', 'reason', s.deadLettersByReason),
    counter('actor_failures_total', 'Times an actor threw while handling a message.', s.failures),
    counter('actor_restarts_total', 'Actors restarted by supervision.', s.restarts)
  ]
  const r = s.remote
  if (r !== null) {
    out.push(
      counter('remote_envelopes_sent_total', 'Messages sent to actors on other nodes.', r.envelopesSent),
      counter('remote_envelopes_received_total', 'Messages from other nodes for actors here.', r.envelopesReceived),
      counter('remote_bad_messages_total', 'Envelopes and signals from peers that did not decode.', r.badMessages),
      gauge('remote_watchers', 'Actors on other nodes watching actors here.', r.remoteWatchers),
      counter('remote_watches_refused_total', 'Watches refused past the limit.', r.watchesRefused),
      counter('remote_forged_replies_total', 'Replies and ask failures from a node that was not asked, ignored.', r.forgedReplies),
      counter('remote_signals_dropped_total', 'Watch, terminated and ask-failed signals not sent: node gone or send refused.', r.signalsDropped)
    )
  }
  return out
}
