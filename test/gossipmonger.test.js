// GossipmongerTcpTransport against gossipmonger's documented transport API, with a small
// scuttlebutt exchange passing through it.
import test from 'brittle'
import { GossipmongerTcpTransport } from 'actor-cluster-bare/gossipmonger'
import { until } from './helpers/transport.js'

function listening(t, id) {
  return new Promise((resolve) => {
    const transport = GossipmongerTcpTransport.listen({ host: '127.0.0.1', port: 0 }, () => {
      resolve({ transport, peer: { id, transport: { host: '127.0.0.1', port: transport.port } } })
    })
    transport.on('error', () => {})
    t.teardown(() => new Promise((r) => transport.close(r)))
  })
}

test('gossipmonger: listen, digest and deltas events with the remote peer, close', async (t) => {
  const a = await listening(t, 'a')
  const b = await listening(t, 'b')
  t.ok(a.transport.port > 0, 'listen on port 0 reports the port')
  const got = []
  b.transport.on('digest', (remotePeer, digest) => got.push(['digest', remotePeer, digest]))
  b.transport.on('deltas', (remotePeer, deltas) => got.push(['deltas', remotePeer, deltas]))
  a.transport.digest(b.peer, a.peer, { a: 1 })
  a.transport.deltas(b.peer, a.peer, [['a', 'key', 'value', 1]])
  await until(() => got.length === 2)
  t.alike(got[0], ['digest', a.peer, { a: 1 }])
  t.alike(got[1], ['deltas', a.peer, [['a', 'key', 'value', 1]]])
})

test('gossipmonger: many messages ride one persistent connection per peer', async (t) => {
  const a = await listening(t, 'a')
  const b = await listening(t, 'b')
  let n = 0
  b.transport.on('digest', () => n++)
  for (let i = 0; i < 200; i++) a.transport.digest(b.peer, a.peer, { i })
  await until(() => n === 200)
  const s = a.transport.stats()
  t.is(s.peers, 1, 'one connection')
  t.is(s.reconnects, 0)
})

test('gossipmonger: an unreachable peer is reported as an error event', async (t) => {
  const a = await listening(t, 'a')
  const errors = []
  a.transport.on('error', (err) => errors.push(err.code))
  a.transport.digest({ id: 'gone', transport: { host: '127.0.0.1', port: 1 } }, a.peer, {})
  await until(() => errors.length === 1, 15000)
  t.is(errors[0], 'UNREACHABLE')
})

test('gossipmonger: three peers converge by scuttlebutt through the transport', async (t) => {
  const peers = await Promise.all(['a', 'b', 'c'].map((id) => listening(t, id)))
  // Each peer owns one key; a digest says which versions it has, deltas carry what is missing.
  const state = peers.map((p) => ({ [p.peer.id]: { value: 'from ' + p.peer.id, version: 1 } }))
  const digestOf = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.version]))
  peers.forEach((p, i) => {
    p.transport.on('digest', (remote, digest) => {
      const newer = Object.entries(state[i]).filter(([k, v]) => (digest[k] ?? 0) < v.version)
      if (newer.length > 0) p.transport.deltas(remote, p.peer, newer)
    })
    p.transport.on('deltas', (remote, deltas) => {
      for (const [k, v] of deltas) if ((state[i][k]?.version ?? 0) < v.version) state[i][k] = v
    })
  })
  for (let round = 0; round < 20 && !state.every((s) => Object.keys(s).length === 3); round++) {
    peers.forEach((p, i) => {
      const other = peers[(i + 1 + (round % 2)) % 3]
      p.transport.digest(other.peer, p.peer, digestOf(state[i]))
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.ok(state.every((s) => Object.keys(s).length === 3), 'every peer has every key')
  t.alike(state[0], state[2], 'same values everywhere')
})
