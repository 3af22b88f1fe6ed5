// `cluster.metrics()`: every counter the node keeps, in the Prometheus text exposition format
// (version 0.0.4), for the user to serve at `/metrics`. The layers above (the actor system) add
// their own families through `cluster.addMetrics(source)`.

import type { Member } from './membership.ts'
import type { ClusterStats } from './cluster.ts'
import type { DropReason, PeerStats, TransportStats } from '../transport/transport.ts'
import type { NodeAddress } from '../node-address.ts'

export const METRICS_PREFIX = 'actor_cluster_'
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface MetricSample {
  labels?: Record<string, string>
  value: number
}

export interface MetricFamily {
  /** Without the `actor_cluster_` prefix; counters end in `_total`. */
  name: string
  help: string
  type: 'counter' | 'gauge'
  samples: MetricSample[]
}

export type MetricsSource = () => MetricFamily[]

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
    {
      name: 'cluster_discarded_total',
      help: 'Messages the cluster let go above the transport, by reason.',
      type: 'counter',
      samples: Object.entries(stats.discarded).map(([reason, value]) => ({ labels: { reason }, value: value ?? 0 }))
    },
    {
      name: 'refused_records_total',
      help: 'Member records and decisions refused, by error code.',
      type: 'counter',
      samples: Object.entries(stats.refusedRecords).map(([code, value]) => ({ labels: { code }, value }))
    },
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
    {
      name: 'transport_drops_total',
      help: 'Messages not delivered, by reason.',
      type: 'counter',
      samples: reasons(transport.drops).map(([reason, value]) => ({ labels: { reason }, value }))
    },
    counter('transport_reconnects_total', 'Connections opened again to a peer seen before.', transport.reconnects),
    counter('transport_handshake_failures_total', 'Handshakes that failed.', transport.handshakeFailures),
    {
      name: 'transport_rejected_total',
      help: 'Connections closed for what they sent, by error code.',
      type: 'counter',
      samples: Object.entries(transport.rejected).map(([code, value]) => ({ labels: { code }, value: value ?? 0 }))
    },
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
      samples: peers.flatMap((p) => reasons(p.drops).map(([reason, value]) => ({ labels: { peer: p.peer, reason }, value })))
    }
  )
  return out
}

/** The text exposition: `# HELP`, `# TYPE`, then one line per sample. */
export function formatMetrics(families: MetricFamily[]): string {
  let out = ''
  const seen = new Set<string>()
  for (const f of families) {
    const name = METRICS_PREFIX + f.name
    if (seen.has(name)) continue
    seen.add(name)
    out += `# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${f.type}\n`
    for (const s of f.samples) out += `${name}${labels(s.labels)} ${number(s.value)}\n`
  }
  return out
}

export function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ value }] }
}

export function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'gauge', samples: [{ value }] }
}

function reasons(drops: Partial<Record<DropReason, number>>): [string, number][] {
  return Object.entries(drops).map(([reason, n]) => [reason, n ?? 0])
}

function labels(l: Record<string, string> | undefined): string {
  if (l === undefined) return ''
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}
