// Sharding's counters as metric families, added to `cluster.metrics()` when sharding starts.

import { counter, counterBy, gauge, type MetricFamily } from '../cluster/metrics.ts'
import type { ShardingStats } from './options.ts'

export function shardingFamilies(s: ShardingStats, self: string): MetricFamily[] {
  return [
    gauge('sharding_allocation_version', 'Version of the shard allocation this node has.', s.allocationVersion),
    {
      name: 'sharding_shards_owned',
      help: 'Shards this node owns, by entity type.',
      type: 'gauge',
      samples: Object.entries(s.shardsPerNode).map(([type, per]) => ({ labels: { type }, value: per[self] ?? 0 }))
    },
    gauge('sharding_entities', 'Entities live on this node.', s.entities),
    gauge('sharding_buffered', 'Messages waiting here for a shard owner or a stopping entity.', s.buffered),
    counter('sharding_entities_started_total', 'Entities started on this node.', s.entitiesStarted),
    counter('sharding_passivations_total', 'Entities stopped for being idle.', s.passivations),
    counterBy('sharding_dropped_total', 'Messages to entities not delivered, by reason.', 'reason', s.droppedByReason),
    counter('sharding_handoffs_total', 'Shards this node handed off.', s.handoffs),
    counter('sharding_handoffs_coordinated_total', 'Handoffs completed while this node was the leader.', s.handoffsCoordinated),
    counter('sharding_forwarded_total', 'Messages from peers passed on to the owner this node knows.', s.forwarded),
    counter('sharding_redelivered_total', 'Messages delivered again from the storage by a new owner.', s.redelivered),
    counter('sharding_bad_messages_total', 'Sharding messages from peers that did not decode.', s.badMessages)
  ]
}
