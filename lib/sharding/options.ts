// The public shapes of sharding: its options and defaults, what registering a type takes, its
// events and its stats.

import type { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Behavior, SpawnOptions } from '../actors/behavior.ts'
import type { MessageStorage } from './message-storage.ts'

/** What sharding takes for the whole node; every field is optional. */
export interface ShardingOptions {
  /**
   * Shards per entity type; every node of the cluster must say the same.
   * @default 100
   */
  numberOfShards?: number
  /**
   * How often nodes report to the leader and the leader rebalances, in ms.
   * @default 500
   */
  tickMs?: number
  /**
   * Handoffs the leader has in progress at most (each round starts what this leaves).
   * @default 10
   */
  maxMovesPerRound?: number
  /**
   * Messages this node holds at most for shards with no owner (or an unreachable one); past it
   * they are dropped and counted as `buffer-full`.
   * @default 10000
   */
  bufferSize?: number
  /**
   * How long a message waits at most for its shard to get a reachable owner, in ms; then it is
   * dropped and counted as `expired` (an ask waiting on it fails at once).
   * @default 30000
   */
  bufferTimeoutMs?: number
  /**
   * Where messages wait until their entity has handled them; null for none.
   * @default a new MemoryMessageStorage
   */
  storage?: MessageStorage | null
}

export const SHARDING_DEFAULTS = {
  numberOfShards: 100,
  tickMs: 500,
  maxMovesPerRound: 10,
  bufferSize: 10_000,
  bufferTimeoutMs: 30_000,
  idleTimeoutMs: 120_000
} as const

/** What registering one entity type takes. */
export interface EntityTypeOptions {
  /**
   * Only members with this role host the type.
   * @default every member that registers it
   */
  role?: string
  /**
   * An entity with no message for this long (ms) is stopped; 0: never.
   * @default 120000
   */
  idleTimeoutMs?: number
  /**
   * Mailbox and supervision of each entity.
   * @default the actor system's
   */
  spawn?: SpawnOptions
}

/** Makes the behavior of one entity, given its id. */
export type EntityFactory<M = unknown> = (entityId: string) => Behavior<M>

export type ShardingDropReason =
  // The buffer for shards without a reachable owner is full.
  | 'buffer-full'
  // It waited in the buffer longer than bufferTimeoutMs.
  | 'expired'
  // This node's number of shards differs from the cluster's.
  | 'refused'
  // Passed on too many times between nodes whose allocations disagree.
  | 'too-many-hops'
  // This node's sharding stopped with the message still here.
  | 'shutdown'
  // The allocation names this node for a type it does not host, or the type's factory threw.
  | 'not-hosted'
  // The transport would not take it.
  | 'undeliverable'
  // Sent to its owner, then lost by the transport (the owner died or the connection closed).
  | 'owner-lost'
  // A body in a format nobody registered here.
  | 'unknown-manifest'
  // The message storage failed to save it.
  | 'storage-failed'
  // The entity's mailbox was full (SpawnOptions.mailbox); it is done in the storage, not redelivered.
  | 'mailbox-full'

/** A shard changed owner. */
export interface ShardMovedEvent {
  type: string
  shard: number
  /** The owner before, or null for a shard that had none. */
  from: NodeAddress | null
  to: NodeAddress
  version: number
}

/** What `sharding.stats()` returns. */
export interface ShardingStats {
  numberOfShards: number
  allocationVersion: number
  /** Per type, shards per owner node (by address), from the allocation this node has. */
  shardsPerNode: Record<string, Record<string, number>>
  /** Per type, live entities per shard on this node. */
  entitiesPerShard: Record<string, Record<string, number>>
  entities: number
  entitiesStarted: number
  passivations: number
  /** Messages waiting here for a shard with a reachable owner, or for an entity to stop. */
  buffered: number
  dropped: number
  droppedByReason: Partial<Record<ShardingDropReason, number>>
  /** Shards this node handed off (stopped its entities and let go). */
  handoffs: number
  /** Handoffs completed while this node was the leader. */
  handoffsCoordinated: number
  /** Messages this node received and passed on to the owner it knows. */
  forwarded: number
  /** Messages a new owner delivered again from the storage. */
  redelivered: number
  /** Sharding messages from peers that did not decode; each closed the peer's connection. */
  badMessages: number
}

/** The counters of ShardingStats this node keeps as it goes. */
export type ShardingCounters = Pick<
  ShardingStats,
  'entitiesStarted' | 'passivations' | 'dropped' | 'droppedByReason' | 'handoffs' | 'forwarded' | 'redelivered' | 'badMessages'
>

/** Events sharding emits. */
export interface ShardingEventMap {
  /** A shard changed owner (see ShardMovedEvent). */
  'shard-moved': [event: ShardMovedEvent]
  /** This node was refused for disagreeing with the cluster (SHARD_COUNT_MISMATCH). */
  refused: [err: ClusterError]
}
