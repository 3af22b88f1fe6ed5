// Membership: joining through seeds, failure detection, downing and removal, restarts, graceful
// leave, partitions that heal, leader changes, and convergence under loss.
import test from 'brittle'
import { Cluster, InMemoryTransport, NodeAddress } from 'actor-cluster-bare'
import { ClusterTestKit } from 'actor-cluster-bare/testkit'

function statuses(cluster) {
  return cluster.members().map((m) => `${m.address.host}:${m.address.port}=${m.status}${m.reachable ? '' : '(unreachable)'}`)
}

// Member events with each unreachable-then-reachable-again pair left out.
function withoutFlaps(events) {
  const out = []
  for (const e of events) {
    if (e === 'member-reachable' && out[out.length - 1] === 'member-unreachable') out.pop()
    else out.push(e)
  }
  return out
}

async function kit(t, opts) {
  const k = await ClusterTestKit.start(opts)
  t.teardown(() => k.shutdown())
  return k
}

test('five nodes form a cluster: every node sees five up and the same leader', async (t) => {
  const k = await kit(t, { nodes: 5 })
  const ms = await k.awaitUp(5)
  t.comment(`converged in ${ms} ms`)
  for (const n of k.running()) t.is(n.members().filter((m) => m.status === 'up').length, 5, `${n.self.host} sees 5 up`)
  t.ok(k.node(3).leader.equals(k.addresses[0]), 'the lowest address leads')
})

test('a crashed node becomes unreachable, then down, then removed; restarted, it rejoins as a new incarnation', async (t) => {
  const k = await kit(t, { nodes: 5 })
  await k.awaitUp(5)
  const watcher = k.node(0)
  const events = []
  for (const e of ['member-unreachable', 'member-reachable', 'member-down', 'member-removed', 'member-joined', 'member-up']) {
    watcher.on(e, (m) => {
      if (m.address.equals(k.addresses[4])) events.push(e)
    })
  }
  const old = k.node(4).incarnation
  const crashedAt = Date.now()
  await k.crash(4)
  await k.awaitCondition(() => k.running().every((n) => n.member(k.addresses[4])?.status === 'removed'), 10000, 'node 4 removed everywhere')
  t.comment(`detected, downed and removed in ${Date.now() - crashedAt} ms`)
  // A node whose own timers ran late (a loaded machine) starts its failure detectors again and
  // withdraws its accusations until it has watched long enough: the crashed node may be seen
  // reachable and unreachable again before it is downed. What must hold is the order.
  t.alike(withoutFlaps(events), ['member-unreachable', 'member-down', 'member-removed'], `events in order (${events.join(', ')})`)
  const seenBefore = events.length
  await k.awaitUp(4)
  const back = await k.restart(4)
  t.ok(back.incarnation > old, 'new incarnation')
  await k.awaitUp(5)
  t.is(watcher.member(k.addresses[4]).incarnation, back.incarnation, 'the others know the new incarnation')
  t.alike(withoutFlaps(events.slice(seenBefore)), ['member-joined', 'member-up'], `seen joining and up again (${events.slice(seenBefore).join(', ')})`)
})

test('graceful leave: the others see leaving, then removed', async (t) => {
  const k = await kit(t, { nodes: 4 })
  await k.awaitUp(4)
  const seen = []
  k.node(0).on('member-leaving', (m) => seen.push('leaving ' + m.address.host))
  k.node(0).on('member-removed', (m) => seen.push('removed ' + m.address.host))
  const leaver = k.node(2)
  const host = leaver.self.host
  await leaver.leave()
  k.nodes[2] = null
  await k.awaitUp(3)
  t.alike(seen, [`leaving ${host}`, `removed ${host}`])
  t.is(k.node(0).member(k.addresses[2]).status, 'removed')
})

test('a partition of 2 and 3 sees the other side unreachable, and heals into one cluster', async (t) => {
  const k = await kit(t, { nodes: 5, cluster: { downAfterMs: 60000 } })
  await k.awaitUp(5)
  k.partition([0, 1], [2, 3, 4])
  await k.awaitCondition(
    () => k.node(0).members().filter((m) => !m.reachable).length === 3 && k.node(4).members().filter((m) => !m.reachable).length === 2,
    10000,
    'each side sees the other unreachable'
  )
  t.ok(k.node(0).leader.equals(k.addresses[0]), 'small side led by node 0')
  t.ok(k.node(4).leader.equals(k.addresses[2]), 'large side led by node 2')
  k.heal()
  const ms = await k.awaitUp(5, 15000)
  t.comment(`healed in ${ms} ms`)
  t.ok(k.running().every((n) => n.leader.equals(k.addresses[0])), 'one leader again')
})

test('the leader changes when the leader goes', async (t) => {
  const k = await kit(t, { nodes: 4 })
  await k.awaitUp(4)
  const changes = []
  k.node(3).on('leader-changed', (leader) => changes.push(leader && leader.host))
  await k.crash(0)
  await k.awaitCondition(() => k.running().every((n) => n.leader?.equals(k.addresses[1])), 10000, 'node 1 leads')
  await k.awaitUp(3)
  t.ok(changes.includes(k.addresses[1].host), 'leader-changed to node 1')
})

test('thirty nodes on a bus with 5% loss converge', { timeout: 120000 }, async (t) => {
  const k = await kit(t, { nodes: 30, faults: { drop: 0.05 }, seed: 30, cluster: { downAfterMs: 60000 } })
  const ms = await k.awaitUp(30, 60000)
  const rounds = k.node(0).stats().gossipRounds
  t.comment(`30 nodes with 5% loss: converged in ${ms} ms, ${rounds} gossip rounds on the first node`)
  t.ok(k.converged(30))
})

test('over loopback TCP: five nodes form a cluster, one crashes and is removed', { timeout: 60000 }, async (t) => {
  const k = await kit(t, { nodes: 5, transport: 'tcp' })
  const ms = await k.awaitUp(5, 20000)
  t.comment(`TCP: converged in ${ms} ms`)
  await k.crash(2)
  await k.awaitCondition(() => k.running().every((n) => n.member(k.addresses[2])?.status === 'removed'), 15000, 'node 2 removed')
  await k.awaitUp(4, 10000)
  t.ok(k.converged(4))
})

test('a seed that is down is retried with backoff until it answers', async (t) => {
  const { Cluster, InMemoryTransport, NodeAddress } = await import('actor-cluster-bare')
  const { FAST_CLUSTER } = await import('actor-cluster-bare/testkit')
  const bus = InMemoryTransport.newBus()
  const seedAddress = NodeAddress.parse('actor-cluster://late@10.0.0.1:2552')
  const joiner = await Cluster.join({ name: 'late' }, { ...FAST_CLUSTER, transport: new InMemoryTransport({ self: 'actor-cluster://late@10.0.0.2:2552', bus }), seeds: [seedAddress] })
  t.teardown(() => joiner.shutdown())
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.is(joiner.members().length, 1, 'alone while the seed is down')
  t.is(joiner.member(joiner.self).status, 'joining', 'and does not start a cluster of its own')
  const seed = await Cluster.join({ name: 'late' }, { ...FAST_CLUSTER, transport: new InMemoryTransport({ self: seedAddress, bus }), seeds: [seedAddress] })
  t.teardown(() => seed.shutdown())
  const deadline = Date.now() + 5000
  while (joiner.members().filter((m) => m.status === 'up').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.is(joiner.members().filter((m) => m.status === 'up').length, 2, 'joined once the seed came up')
})

test('a downing rule can keep an unreachable member from being downed', async (t) => {
  const asked = []
  const k = await kit(t, {
    nodes: 3,
    cluster: {
      downingRule: (member, unreachableForMs) => {
        asked.push(unreachableForMs)
        return false
      }
    }
  })
  await k.awaitUp(3)
  await k.crash(2)
  await k.awaitCondition(() => k.node(0).member(k.addresses[2])?.reachable === false, 10000, 'node 2 unreachable')
  await k.awaitCondition(() => asked.some((ms) => ms > 800), 10000, 'the rule asked past downAfterMs')
  t.is(k.node(0).member(k.addresses[2]).status, 'up', 'still up (unreachable), never down')
})

test('phi accrual: regular heartbeats keep phi low, silence raises it past the threshold', async (t) => {
  const { PhiAccrualDetector } = await import('actor-cluster-bare')
  const d = new PhiAccrualDetector({ threshold: 8, minStdDeviationMs: 10, acceptableHeartbeatPauseMs: 0, firstHeartbeatEstimateMs: 100 })
  let at = 0
  for (let i = 0; i < 50; i++) d.heartbeat((at += 100))
  t.ok(d.phi(at + 100) < 1, `on time: phi ${d.phi(at + 100).toFixed(3)}`)
  t.ok(d.isAvailable(at + 120), 'a little late is still available')
  t.ok(d.phi(at + 300) > 8, `three intervals of silence: phi ${d.phi(at + 300).toFixed(1)}`)
  t.ok(d.phi(at + 400) >= d.phi(at + 300), 'phi only grows with silence')
  const patient = new PhiAccrualDetector({ threshold: 8, minStdDeviationMs: 10, acceptableHeartbeatPauseMs: 1000, firstHeartbeatEstimateMs: 100 })
  at = 0
  for (let i = 0; i < 50; i++) patient.heartbeat((at += 100))
  t.ok(patient.isAvailable(at + 800), 'an acceptable pause of 1 s tolerates 800 ms of silence')
})

test('messages the cluster lets go are counted by reason: no handler, no channel, after it stopped', async (t) => {
  // A real transport that also hands the test its handler, to deliver after shutdown as a
  // transport does while it flushes.
  const self = new NodeAddress('counts', 'node-a', 1)
  const peer = new NodeAddress('counts', 'node-b', 1)
  const transport = new InMemoryTransport({ self, bus: InMemoryTransport.newBus() })
  let handler = null
  const setHandler = transport.setHandler.bind(transport)
  transport.setHandler = (h) => {
    handler = h
    setHandler(h)
  }
  const cluster = await Cluster.join({ name: 'counts' }, { transport, seeds: [], gossipIntervalMs: 60_000, heartbeatIntervalMs: 60_000 })
  t.teardown(() => cluster.shutdown())
  const envelope = { kind: 'envelope', to: '/user/a', from: null, manifest: '', body: new Uint8Array(1) }
  const onChannel = (channel) => ({ kind: 'subsystem', channel, body: new Uint8Array(1) })
  cluster.channel('open', () => {})
  handler(peer, envelope)
  handler(peer, onChannel('closed'))
  handler(peer, onChannel('closed'))
  handler(peer, onChannel('open'))
  t.alike(cluster.stats().discarded, { 'no-handler': 1, 'no-channel': 2 })
  t.is(cluster.stats().unhandledMessages, 3)
  await cluster.shutdown()
  handler(peer, envelope)
  handler(peer, onChannel('open'))
  handler(peer, { kind: 'heartbeat', seq: 1, sentAt: 0 })
  t.alike(cluster.stats().discarded, { 'no-handler': 1, 'no-channel': 2, stopped: 2 }, 'envelopes and channel messages after stop')
  const metrics = cluster.metrics()
  t.ok(metrics.includes('actor_cluster_cluster_discarded_total{reason="stopped"} 2'), 'in metrics()')
  t.ok(metrics.includes('actor_cluster_cluster_discarded_total{reason="no-channel"} 2'))
})

test('the leader moves a joiner up only once every member has seen it: not while a member is unreachable', async (t) => {
  const k = await kit(t, { nodes: 4, cluster: { downAfterMs: 60000 } })
  await k.awaitUp(4)
  k.partition([3], [0, 1, 2])
  await k.awaitCondition(() => k.node(0).member(k.addresses[3]).reachable === false, 5000, 'node 3 unreachable')
  const joiner = await k.add()
  await k.awaitCondition(() => k.node(0).member(joiner.self)?.status === 'joining', 5000, 'the joiner seen joining')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.is(k.node(0).member(joiner.self).status, 'joining', 'still joining after 20 rounds: node 3 has not seen it')
  k.heal()
  await k.awaitUp(5, 10000)
  t.pass('up once node 3 is back and has seen it')
})

test('a converged cluster sends its whole digest once every fullGossipEvery rounds per other member, summaries otherwise', async (t) => {
  const k = await kit(t, { nodes: 4, cluster: { gossipIntervalMs: 40, fullGossipEvery: 3 } })
  await k.awaitUp(4)
  await k.awaitCondition(() => new Set(k.running().map((c) => c.members().map((m) => m.status).join())).size === 1, 5000, 'one view')
  const node = k.node(1)
  const sent = { digests: 0, summaries: 0 }
  const send = node.transport.send.bind(node.transport)
  node.transport.send = (to, msg) => {
    // Rounds this node opens: a summary asking for an answer, or its whole digest.
    if (msg.kind === 'gossip' && msg.reply && msg.summary === null && msg.digest.length > 0) sent.digests++
    if (msg.kind === 'gossip' && msg.reply && msg.summary !== null) sent.summaries++
    return send(to, msg)
  }
  const r0 = node.stats().gossipRounds
  await new Promise((resolve) => setTimeout(resolve, 2500))
  const rounds = node.stats().gossipRounds - r0
  const period = 3 * 3
  t.ok(rounds >= 2 * period, `${rounds} rounds`)
  t.ok(Math.abs(sent.digests - rounds / period) <= 1.5, `${sent.digests} digests in ${rounds} rounds, one every ${period}`)
  t.ok(sent.summaries >= rounds - sent.digests - 1, `${sent.summaries} summaries otherwise`)
})

// The leader and one other member leave at once; each leave must end by its removal (or with
// nobody left to remove it), never by waiting out leaveTimeoutMs.
async function leaveTogether(t, nodes, transport, cluster, delayMs = 0) {
  const k = await ClusterTestKit.start({ nodes, transport, cluster: { ...cluster, leaveTimeoutMs: 60000 } })
  try {
    await k.awaitUp(nodes)
    const leader = k.node(0).leader
    const i = k.addresses.findIndex((a) => a.equals(leader))
    const j = i === 0 ? 1 : 0
    const leavers = [k.node(i), k.node(j)]
    let removed = false
    leavers[1].on('member-removed', (m) => {
      if (m.address.equals(leavers[1].self)) removed = true
    })
    await Promise.all([leavers[0].leave(), sleep(delayMs).then(() => leavers[1].leave())])
    k.nodes[i] = k.nodes[j] = null
    t.ok(leavers.every((c) => c.stopped) && removed, `${transport}, ${nodes} nodes: both left; the one that does not lead learnt it was removed`)
    if (nodes > 2) {
      await k.awaitCondition(() => k.running().every((c) => leavers.every((l) => c.member(l.self)?.status === 'removed')), 5000, 'the rest see both removed')
    }
  } finally {
    await k.shutdown()
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Default rounds: a leaving leader shuts down right after it removes the other leaver, which
// then hears of its removal only from the leader's last message.
test('the leader and another member leave at once: neither waits out leaveTimeoutMs', { timeout: 40000 }, async (t) => {
  const timings = { gossipIntervalMs: 500, heartbeatIntervalMs: 1000, downAfterMs: 60000 }
  for (let round = 0; round < 6; round++) await leaveTogether(t, 2, round % 2 === 0 ? 'memory' : 'tcp', timings, round * 45)
  await leaveTogether(t, 3, 'tcp', timings)
  await leaveTogether(t, 4, 'memory', {})
})

test('listenHost: a node listens there and announces host; the others reach it through a seed at the listening address', async (t) => {
  const { ActorSystem } = await import('actor-cluster-bare')
  const make = async (opts) => {
    const system = ActorSystem.create('listen', { logLevel: 'silent' })
    const cluster = await Cluster.join(system, { gossipIntervalMs: 50, heartbeatIntervalMs: 50, port: 0, ...opts })
    t.teardown(() => system.terminate({ leave: false }))
    return cluster
  }
  // Announced 127.0.0.1 (where nothing of it listens), bound on another loopback address.
  const a = await make({ host: '127.0.0.1', listenHost: '127.0.0.2' })
  t.is(a.self.host, '127.0.0.1', 'it announces host')
  const b = await make({ seeds: [`127.0.0.2:${a.self.port}`] })
  const deadline = Date.now() + 10000
  while (!(b.member(a.self)?.status === 'up' && a.member(b.self)?.status === 'up') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.is(b.member(a.self)?.status, 'up', 'the other node met it through its listening address')
  t.is(a.member(b.self)?.status, 'up', 'and it sees the other up')
})
