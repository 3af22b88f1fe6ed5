// The cluster's own metric families: its gossip and heartbeat counters, its view of the members,
// and its transport's totals and per-peer figures.

import type { Member } from './membership.ts'
import type { ClusterStats } from './cluster.ts'
import { counter, counterBy, gauge, type MetricFamily } from './metrics.ts'
import type { PeerStats, TransportStats } from '../transport/transport.ts'
import type { NodeAddress } from '../node-address.ts'

/**
 * Families for a cluster node: its gossip and heartbeat counters, its view of the members, and
 * its transport's totals and per-peer figures.
 */
export function clusterFamilies(
  stats: ClusterStats,
  members: Member[],
  self: NodeAddress,
  leader: NodeAddress | null,
  transport: TransportStats | null,
  peers: PeerStats[]
): MetricFamily[] {
  const byStatus = new Map<string, number>()
  for (const status of ['joining', 'up', 'leaving', 'down', 'removed']) byStatus.set(status, 0)
  for (const m of members) byStatus.set(m.status, (byStatus.get(m.status) ?? 0) + 1)
  const out: MetricFamily[] = [
    counter('gossip_rounds_total', 'Gossip rounds this node started.', stats.gossipRounds),
    counter('gossip_messages_sent_total', 'Gossip messages sent.', stats.gossipMessagesSent),
    counter('gossip_bytes_sent_total', 'Bytes of gossip sent.', stats.gossipBytesSent),
    counter('heartbeats_sent_total', 'Heartbeats sent to watched members.', stats.heartbeatsSent),
    counter('unhandled_messages_total', 'Envelopes and channel messages nothing here took.', stats.unhandledMessages),
    counterBy('cluster_discarded_total', 'Messages the cluster let go above the transport, by reason.', 'reason', stats.discarded),
    counterBy('refused_records_total', 'Member records and decisions refused, by error code.', 'code', stats.refusedRecords),
    counter('forgers_disconnected_total', 'Connections closed for a forged or out-of-range record.', stats.forgersDisconnected),
    counter('pauses_detected_total', 'Ticks on which this node found it had been paused and judged nobody.', stats.pausesDetected),
    counter('refutations_total', 'Newer records this node published against an accusation of itself.', stats.refutations),
    counter('gossip_errors_total', 'Gossip messages whose handling failed.', stats.gossipErrors),
    {
      name: 'members',
      help: 'Members this node knows, by status.',
      type: 'gauge',
      samples: [...byStatus].map(([status, value]) => ({ labels: { status }, value }))
    },
    gauge('unreachable_members', 'Members some member cannot reach.', members.filter((m) => !m.reachable && m.status !== 'removed').length),
    gauge('leader', '1 when this node is the leader.', leader !== null && leader.equals(self) ? 1 : 0)
  ]
  if (transport === null) return out
  out.push(
    gauge('transport_peers', 'Peers with an open connection.', transport.peers),
    counter('transport_bytes_in_total', 'Bytes received.', transport.bytesIn),
    counter('transport_bytes_out_total', 'Bytes sent.', transport.bytesOut),
    counter('transport_frames_in_total', 'Frames received.', transport.framesIn),
    counter('transport_frames_out_total', 'Frames sent.', transport.framesOut),
    gauge('transport_queued_bytes', 'Bytes queued to be written, all peers.', transport.queuedBytes),
    counterBy('transport_drops_total', 'Messages not delivered, by reason.', 'reason', transport.drops),
    counter('transport_reconnects_total', 'Connections opened again to a peer seen before.', transport.reconnects),
    counter('transport_handshake_failures_total', 'Handshakes that failed.', transport.handshakeFailures),
    counterBy('transport_rejected_total', 'Connections closed for what they sent, by error code.', 'code', transport.rejected),
    gauge('transport_inbound_connections', 'Inbound connections still handshaking.', transport.inboundConnections),
    counter('transport_dials_queued_total', 'Dials that waited for a free slot.', transport.dialsQueued)
  )
  const perPeer = (name: string, help: string, type: MetricFamily['type'], value: (p: PeerStats) => number | null): MetricFamily => ({
    name,
    help,
    type,
    samples: peers.flatMap((p) => {
      const v = value(p)
      return v === null ? [] : [{ labels: { peer: p.peer }, value: v }]
    })
  })
  out.push(
    perPeer('peer_rtt_seconds', 'Last heartbeat round trip to the peer.', 'gauge', (p) => (p.rttMs === null ? null : p.rttMs / 1000)),
    perPeer('peer_connected', '1 while a connection to the peer is open.', 'gauge', (p) => (p.connected ? 1 : 0)),
    perPeer('peer_bytes_in_total', 'Bytes received from the peer.', 'counter', (p) => p.bytesIn),
    perPeer('peer_bytes_out_total', 'Bytes sent to the peer.', 'counter', (p) => p.bytesOut),
    perPeer('peer_frames_in_total', 'Frames received from the peer.', 'counter', (p) => p.framesIn),
    perPeer('peer_frames_out_total', 'Frames sent to the peer.', 'counter', (p) => p.framesOut),
    perPeer('peer_queued_bytes', 'Bytes queued for the peer.', 'gauge', (p) => p.queuedBytes),
    perPeer('peer_queued_frames', 'Frames queued for the peer.', 'gauge', (p) => p.queuedFrames),
    perPeer('peer_reconnects_total', 'Reconnections to the peer.', 'counter', (p) => p.reconnects),
    perPeer('peer_handshake_failures_total', 'Failed handshakes with the peer.', 'counter', (p) => p.handshakeFailures),
    {
      name: 'peer_drops_total',
      help: 'Messages for the peer not delivered, by reason.',
      type: 'counter',
      samples: peers.flatMap((p) => Object.entries(p.drops).map(([reason, value]) => ({ labels: { peer: p.peer, reason }, value: value ?? 0 })))
    }
  )
  return out
}
