// Seeing a running cluster: cluster.status() (members, leader, per-peer RTT, traffic, queue and
// drops), metrics() in the Prometheus text format with every counter, and how a NodeAddress
// prints.
import test from 'brittle'
import { ActorSystem, Cluster, NodeAddress, METRICS_PREFIX } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './helpers/transport.js'
import { parseExposition } from './helpers/prometheus.js'

async function three(t, name) {
  const nodes = []
  for (let i = 0; i < 3; i++) {
    const system = ActorSystem.create(name, { logLevel: 'silent' })
    const cluster = await Cluster.join(system, { ...FAST_CLUSTER, port: 0, seeds: i === 0 ? [] : [nodes[0].cluster.self], roles: i === 0 ? ['seed'] : [] })
    t.teardown(() => system.terminate({ leave: false }))
    nodes.push({ system, cluster })
  }
  await Promise.all(nodes.map((n) => n.cluster.ready({ timeoutMs: 10000 })))
  await until(() => nodes.every((n) => n.cluster.members().filter((m) => m.status === 'up').length === 3), 10000, 'three up')
  return nodes
}

test('status(): members with status, reachability, roles, the leader, and per peer RTT, traffic and queue', async (t) => {
  const nodes = await three(t, 'status')
  const a = nodes[0].cluster
  // Heartbeats go round, so each peer a watches has a round-trip time.
  await until(() => a.status().members.filter((m) => !m.self).every((m) => m.peer !== null && m.peer.rttMs !== null), 5000, 'rtt measured')
  const s = a.status()
  t.is(s.self, a.self.toString())
  t.ok(s.ready)
  t.is(s.leader, a.leader.toString())
  t.is(s.members.length, 3)
  t.ok(s.members.every((m) => m.status === 'up' && m.reachable), 'all up and reachable')
  t.is(s.members.filter((m) => m.leader).length, 1, 'one leader marked')
  t.alike(s.members.find((m) => m.self).roles, ['seed'], 'roles')
  for (const m of s.members.filter((m) => !m.self)) {
    t.ok(m.peer.connected && m.peer.bytesOut > 0 && m.peer.bytesIn > 0, `traffic with ${m.address}`)
    t.ok(m.peer.rttMs >= 0 && m.peer.queuedBytes >= 0 && typeof m.peer.drops === 'object', `rtt ${m.peer.rttMs} ms, queue ${m.peer.queuedBytes}`)
  }
  t.ok(s.transport.bytesOut > 0, 'transport totals')
})

test('metrics(): Prometheus text exposition with the cluster, transport, per-peer and actor counters', async (t) => {
  const nodes = await three(t, 'metrics')
  const { system, cluster } = nodes[1]
  system.spawn('echo', (msg, ctx) => ctx.reply(msg))
  await nodes[0].system.ref(`${cluster.self}/user/echo`).ask('hi', { timeoutMs: 5000 })
  system.ref('/user/nobody').tell('lost')
  const text = cluster.metrics()
  const families = parseExposition(text)
  const value = (name, labels = {}) =>
    families.get(METRICS_PREFIX + name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
  const stats = cluster.stats()
  const tstats = cluster.transport.stats()
  t.ok(value('gossip_rounds_total') > 0 && value('gossip_rounds_total') <= cluster.stats().gossipRounds, 'gossip rounds')
  t.is(value('gossip_messages_sent_total') <= cluster.stats().gossipMessagesSent, true)
  t.is(value('heartbeats_sent_total') <= cluster.stats().heartbeatsSent, true)
  t.is(value('unhandled_messages_total'), stats.unhandledMessages)
  t.is(value('members', { status: 'up' }), 3)
  t.is(value('leader'), cluster.leader.equals(cluster.self) ? 1 : 0)
  t.ok(value('transport_bytes_out_total') > 0 && value('transport_bytes_out_total') <= tstats.bytesOut + 1e6)
  t.is(value('transport_handshake_failures_total'), tstats.handshakeFailures)
  t.is(value('peer_connected', { peer: nodes[0].cluster.self.toString() }), 1, 'per peer, labelled with its address')
  t.ok(value('peer_bytes_in_total', { peer: nodes[0].cluster.self.toString() }) > 0)
  t.is(value('actors'), 1, 'the actor system adds its own')
  t.is(value('dead_letters_total', { reason: 'no-recipient' }), 1)
  t.is(value('remote_envelopes_received_total'), 1)
  for (const [name, f] of families) t.ok(f.type === 'gauge' || name.endsWith('_total'), `${name}: counters end in _total`)
  t.ok(families.size >= 30, `${families.size} families`)
})

test('metrics() escapes label values', async (t) => {
  const { formatMetrics } = await import('actor-cluster-bare')
  const text = formatMetrics([{ name: 'x_total', help: 'a "help"\nline', type: 'counter', samples: [{ labels: { peer: 'a"b\\c\nd' }, value: 1 }] }])
  const f = parseExposition(text).get(METRICS_PREFIX + 'x_total')
  t.is(f.samples[0].labels.peer, 'a"b\\c\nd')
})

test('a NodeAddress prints as its address on console.log and inspect', async (t) => {
  const address = NodeAddress.parse('actor-cluster://app@127.0.0.1:2552')
  let shown
  if (typeof globalThis.Bare !== 'undefined') {
    const { default: inspect } = await import('bare-inspect')
    shown = inspect(address)
  } else if (typeof globalThis.Deno !== 'undefined') {
    // Deno's console.log goes through Deno.inspect (Deno 2 reads Node's symbol as well as its own).
    shown = globalThis.Deno.inspect(address)
    t.is(globalThis.Deno.inspect({ at: address }), '{ at: NodeAddress(actor-cluster://app@127.0.0.1:2552) }', 'nested too')
  } else {
    const { inspect } = await import('node:util')
    shown = inspect(address)
  }
  t.is(shown, 'NodeAddress(actor-cluster://app@127.0.0.1:2552)')
  t.is(`${address}`, 'actor-cluster://app@127.0.0.1:2552', 'strings are unchanged')
})
