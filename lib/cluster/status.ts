// `cluster.status()`: one plain object with what a person (or a status page) wants to see of a
// running node: every member with its status, reachability and roles, the leader, and for each
// peer what this node's transport knows of it (round-trip time, traffic, queue depth, drops).

import type { NodeAddress } from '../node-address.ts'
import type { ObservableTransport, PeerStats, TransportStats } from '../transport/transport.ts'
import type { Member } from './membership.ts'

export interface MemberStatusView {
  /** The member's address, `actor-cluster://app@10.0.0.5:2552`. */
  address: string
  status: Member['status']
  reachable: boolean
  roles: string[]
  incarnation: number
  /** True for this node. */
  self: boolean
  leader: boolean
  /** This node's connection to the member: null for itself or when never connected. */
  peer: PeerStatus | null
}

/** A peer's transport stats as status shows them: all but what the member view says already. */
export type PeerStatus = Omit<PeerStats, 'peer' | 'incarnation' | 'handshakeFailures'>

export interface ClusterStatus {
  self: string
  clientOnly: boolean
  /** This node is up (a client-only node: it has a view of the cluster). */
  ready: boolean
  leader: string | null
  /** Members not removed, sorted by address. */
  members: MemberStatusView[]
  /** Totals of this node's transport, when it keeps stats. */
  transport: TransportStats | null
}

/** What status needs of a cluster. */
export interface StatusSource {
  readonly self: NodeAddress
  readonly clientOnly: boolean
  readonly leader: NodeAddress | null
  readonly transport: ObservableTransport
  members(): Member[]
  isReady(): boolean
}

export function clusterStatus(cluster: StatusSource): ClusterStatus {
  const transport = cluster.transport
  const leader = cluster.leader
  const members = cluster
    .members()
    .filter((m) => m.status !== 'removed')
    .map((m): MemberStatusView => {
      const self = m.address.equals(cluster.self)
      const stats = self ? null : transport.stats(m.address)
      return {
        address: m.address.toString(),
        status: m.status,
        reachable: m.reachable,
        roles: [...m.roles],
        incarnation: m.incarnation,
        self,
        leader: leader !== null && leader.equals(m.address),
        peer: stats === null ? null : peerStatus(stats)
      }
    })
  return {
    self: cluster.self.toString(),
    clientOnly: cluster.clientOnly,
    ready: cluster.isReady(),
    leader: leader?.toString() ?? null,
    members,
    transport: transport.stats()
  }
}

function peerStatus(s: PeerStats): PeerStatus {
  const { peer, incarnation, handshakeFailures, ...shown } = s
  return { ...shown, drops: { ...s.drops } }
}
