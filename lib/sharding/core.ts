// What the parts of one node's sharding share: the node, its allocation table, its counters and
// each other. The Sharding facade makes it and the parts; each part reads the others through it.

import type { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Channel } from '../cluster/channel.ts'
import type { Cluster } from '../cluster/cluster.ts'
import type { ActorSystem } from '../actors/actor-system.ts'
import type { ShardTable } from './allocation.ts'
import type { Handoff } from './handoff.ts'
import type { Hosting } from './hosting.ts'
import type { MessageStorage } from './message-storage.ts'
import type { ShardingMessage } from './messages.ts'
import type { ShardingCounters } from './options.ts'
import type { Router } from './routing.ts'

export interface ShardingCore {
  readonly system: ActorSystem
  readonly cluster: Cluster
  readonly log: Logger
  readonly channel: Channel
  readonly storage: MessageStorage | null
  readonly table: ShardTable
  readonly counters: ShardingCounters
  readonly router: Router
  readonly hosting: Hosting
  readonly handoff: Handoff
  /** Set once this node was refused for disagreeing with the cluster. */
  readonly refused: ClusterError | null
  readonly stopped: boolean
  /** Neither stopped, refused nor terminated: messages may go straight to owners. */
  open(): boolean
  /** A sharding message to a peer (failures logged, not thrown). */
  send(to: NodeAddress, m: ShardingMessage): void
  /** This node's report to the leader, now. */
  report(): void
}

/** The core as the facade builds it: the parts are set once they exist. */
export type MutableCore = { -readonly [K in keyof ShardingCore]: ShardingCore[K] }
