// Clusters over SwarmTransport on a local testnet: nodes found by a topic with no seed list,
// joined by one member's key, and named by keys they must hold.
import test from 'brittle'
import { Cluster, NodeAddress } from 'actor-cluster-bare'
import { testnet, local, randomTopic, swarmSkip, offLoopback } from './helpers/swarm.js'
import { until } from './helpers/transport.js'

const FAST = { gossipIntervalMs: 100, heartbeatIntervalMs: 200 }

function upCount(c) {
  return c.members().filter((m) => m.status === 'up').length
}

if (swarmSkip !== null) {
  test('swarm cluster', (t) => t.comment(swarmSkip))
} else {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')

  async function node(t, net, topic, opts = {}, clusterOpts = {}) {
    const transport = new SwarmTransport(local(net, { topic, ...opts }))
    const cluster = await Cluster.join({ name: 'app' }, { transport, ...FAST, ...clusterOpts })
    t.teardown(() => cluster.shutdown())
    return cluster
  }

  test('swarm cluster: three nodes started at the same moment form one cluster within 5 s, with no seeds', async (t) => {
    const net = await testnet(t)
    const topic = randomTopic()
    const started = Date.now()
    const nodes = await Promise.all([0, 1, 2].map(() => node(t, net, topic)))
    await until(() => nodes.every((c) => upCount(c) === 3), 5000, 'three up everywhere')
    const ms = Date.now() - started
    t.comment(`three nodes up everywhere ${ms} ms after they started`)
    t.ok(ms < 5000, `within 5 s (${ms} ms)`)
    const leaders = new Set(nodes.map((c) => c.leader?.toString()))
    t.is(leaders.size, 1, 'one leader')
    for (const c of nodes) t.ok(c.self.byKey && c.self.toString().startsWith('actor-cluster+hs://app@'), 'named by its key')
    for (const c of nodes) t.alike(c.publicKey, c.transport.publicKey, 'membership signed with the swarm key')
  })

  test('swarm cluster: a late joiner is up everywhere within 2 s', async (t) => {
    const net = await testnet(t)
    const topic = randomTopic()
    const first = await Promise.all([0, 1].map(() => node(t, net, topic)))
    await until(() => first.every((c) => upCount(c) === 2), 5000, 'two up')
    const started = Date.now()
    const late = await node(t, net, topic)
    await until(() => [...first, late].every((c) => upCount(c) === 3), 2000, 'the late joiner up everywhere')
    const ms = Date.now() - started
    t.comment(`late joiner up everywhere in ${ms} ms`)
    t.pass(`within 2 s (${ms} ms)`)
  })

  test("swarm cluster: a node that knows one member's key joins by it, on no shared topic", async (t) => {
    const net = await testnet(t)
    const topic = randomTopic()
    const a = await node(t, net, topic)
    const b = await node(t, net, topic)
    await until(() => upCount(a) === 2 && upCount(b) === 2, 5000, 'a and b up')
    const started = Date.now()
    const c = await node(t, net, randomTopic(), {}, { seeds: [a.self.toString()] })
    await until(() => [a, b, c].every((x) => upCount(x) === 3), 5000, 'c up everywhere')
    t.comment(`joined by key in ${Date.now() - started} ms`)
    t.ok(c.member(b.self)?.status === 'up', 'and met the member it did not know, by gossip')
  })

  test('swarm: nothing left loopback (cluster)', (t) => {
    t.alike(offLoopback, [], 'every destination was 127.0.0.0/8')
  })
}
