// What the parts of one cluster node share: its address, transport, membership view, settings
// and counters, and the two things every part may ask of the node (publish the view, count a
// discard).

import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ObservableTransport } from '../transport/transport.ts'
import type { Member, Membership } from './membership.ts'
import { CLUSTER_DEFAULTS, type ClusterDiscardReason, type ClusterOptions, type ClusterStats } from './options.ts'

/** The settings a node runs with, every default filled in. */
export type ResolvedOptions = Required<
  Omit<
    ClusterOptions,
    | 'host'
    | 'listenHost'
    | 'port'
    | 'seeds'
    | 'transport'
    | 'tls'
    | 'secret'
    | 'roles'
    | 'log'
    | 'failureDetector'
    | 'clientOnly'
    | 'serializeLocalMessages'
    | 'keyPair'
  >
>

/** Every setting of `opts`, or its default. */
export function resolveOptions(opts: ClusterOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    gossipIntervalMs: opts.gossipIntervalMs ?? CLUSTER_DEFAULTS.gossipIntervalMs,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? CLUSTER_DEFAULTS.heartbeatIntervalMs,
    monitoredMembers: opts.monitoredMembers ?? CLUSTER_DEFAULTS.monitoredMembers,
    downAfterMs: opts.downAfterMs ?? CLUSTER_DEFAULTS.downAfterMs,
    downingRule: opts.downingRule ?? ((_m, unreachableForMs) => unreachableForMs >= resolved.downAfterMs),
    unreachableGossipEvery: opts.unreachableGossipEvery ?? CLUSTER_DEFAULTS.unreachableGossipEvery,
    seedRetryBaseMs: opts.seedRetryBaseMs ?? CLUSTER_DEFAULTS.seedRetryBaseMs,
    seedRetryMaxMs: opts.seedRetryMaxMs ?? CLUSTER_DEFAULTS.seedRetryMaxMs,
    tombstoneMs: opts.tombstoneMs ?? CLUSTER_DEFAULTS.tombstoneMs,
    leaveTimeoutMs: opts.leaveTimeoutMs ?? CLUSTER_DEFAULTS.leaveTimeoutMs,
    maxMembers: opts.maxMembers ?? CLUSTER_DEFAULTS.maxMembers,
    fullGossipEvery: opts.fullGossipEvery ?? CLUSTER_DEFAULTS.fullGossipEvery
  }
  return resolved
}

export interface ClusterContext {
  readonly self: NodeAddress
  readonly transport: ObservableTransport
  readonly membership: Membership
  readonly opts: ResolvedOptions
  readonly stats: ClusterStats
  readonly log: Logger
  readonly clientOnly: boolean
  /** True once the node has left or shut down. */
  readonly stopped: boolean
  /** Compares the view with the last one published and emits what changed. */
  publish(): void
  discard(reason: ClusterDiscardReason): void
}

/** Every member but this node and the removed ones. */
export function others(ctx: ClusterContext): Member[] {
  return ctx.membership.members().filter((m) => !m.address.equals(ctx.self) && m.status !== 'removed')
}

export function sameAddress(a: NodeAddress | null, b: NodeAddress | null): boolean {
  return a === null ? b === null : a.equals(b)
}
