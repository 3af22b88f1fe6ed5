// GossipmongerTcpTransport against gossipmonger's documented transport API, with a small
// scuttlebutt exchange passing through it.
import test from 'brittle'
import { getTcpBackend } from 'actor-cluster-bare'
import { GossipmongerTcpTransport } from 'actor-cluster-bare/gossipmonger'
import { until } from './helpers/transport.js'

// The real gossipmonger (a devDependency, CommonJS on Node's modules): absent where it cannot load.
const Gossipmonger = await import('gossipmonger').then((m) => m.default ?? m, () => null)

function listening(t, id, port = 0, transportOptions = {}) {
  return new Promise((resolve) => {
    const transport = GossipmongerTcpTransport.listen({ host: '127.0.0.1', port, transport: transportOptions }, () => {
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

test('gossipmonger: an unreachable peer is reported at its first failed dial, and later messages dial again', async (t) => {
  const backend = getTcpBackend()
  let dials = 0
  const counting = {
    name: backend.name,
    verifiesClientCertificates: backend.verifiesClientCertificates,
    listen: (opts) => backend.listen(opts),
    connect: (opts) => {
      dials++
      return backend.connect(opts)
    }
  }
  // A port that was free a moment ago: nobody listens there until b starts below.
  const probe = await listening(t, 'probe')
  const port = probe.transport.port
  await new Promise((resolve) => probe.transport.close(resolve))
  const a = await listening(t, 'a', 0, { backend: counting })
  const errors = []
  a.transport.on('error', (err) => errors.push({ code: err.code, dials, message: err.message }))
  const bPeer = { id: 'b', transport: { host: '127.0.0.1', port } }
  a.transport.digest(bPeer, a.peer, { n: 0 })
  await until(() => errors.length === 1, 10000, 'the error')
  t.is(errors[0].code, 'UNREACHABLE')
  t.is(errors[0].dials, 1, 'reported at the first failed dial')
  t.ok(errors[0].message.includes(`127.0.0.1:${port}`), 'the message names the peer')

  const b = await listening(t, 'b', port)
  let got = 0
  b.transport.on('digest', () => got++)
  for (let i = 1; i <= 100 && got === 0; i++) {
    a.transport.digest(bPeer, a.peer, { n: i })
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(got > 0, 'once the peer listens, the next messages arrive')
  t.ok(dials >= 2, `dialled again (${dials} dials)`)
})

test('gossipmonger: malformed peers and payloads are error events, never thrown; string ports work', async (t) => {
  const a = await listening(t, 'a')
  const b = await listening(t, 'b')
  const errors = []
  a.transport.on('error', (err) => errors.push(err.code))
  const bad = [null, { id: 'x' }, { id: 'x', transport: null }, { id: 'x', transport: { host: '127.0.0.1' } }, { id: 'x', transport: { host: '', port: 1 } }, { id: 'x', transport: { host: '127.0.0.1', port: 'eighty' } }, { id: 'x', transport: { host: '127.0.0.1', port: 70000 } }, { id: 'x', transport: { host: 'bad host!', port: 1 } }]
  for (const peer of bad) a.transport.digest(peer, a.peer, {})
  t.alike(errors, bad.map(() => 'BAD_ADDRESS'), 'each malformed peer is one BAD_ADDRESS error')
  const cyclic = {}
  cyclic.self = cyclic
  a.transport.deltas(b.peer, a.peer, cyclic)
  t.is(errors.at(-1), 'NOT_SERIALIZABLE', 'a payload that is not JSON')
  const got = []
  b.transport.on('digest', (remote, digest) => got.push([remote, digest]))
  a.transport.digest({ id: 'b', transport: { host: '127.0.0.1', port: String(b.peer.transport.port) } }, a.peer, { via: 'string port' })
  await until(() => got.length === 1, 5000, 'the digest over a string port')
  t.alike(got[0], [a.peer, { via: 'string port' }])

  const quiet = new GossipmongerTcpTransport({ host: '127.0.0.1', port: 0 })
  t.execution(() => quiet.digest({ id: 'x' }, a.peer, {}), 'no error listener: still not thrown')
})

test('gossipmonger: a peer reached as localhost:P while it announces 127.0.0.1:P gets its messages', async (t) => {
  const a = await listening(t, 'a')
  const b = await listening(t, 'b')
  const errors = []
  a.transport.on('error', (err) => errors.push(err.code))
  const got = []
  b.transport.on('digest', (remote, digest) => got.push(digest))
  const viaLocalhost = { id: 'b', transport: { host: 'localhost', port: b.peer.transport.port } }
  for (let i = 0; i < 3; i++) a.transport.digest(viaLocalhost, a.peer, { i })
  await until(() => got.length === 3, 5000, 'the digests')
  t.alike(got, [{ i: 0 }, { i: 1 }, { i: 2 }], 'all, in order')
  t.alike(errors, [], 'no error')
  t.is(a.transport.stats().peers, 1, 'one connection, under the name b announced')
})

test('gossipmonger: a received digest that its listener cannot walk is an error event; the link carries on', async (t) => {
  const a = await listening(t, 'a')
  const b = await listening(t, 'b')
  const errors = []
  const got = []
  b.transport.on('error', (err) => errors.push(err.code))
  // As gossipmonger's own listener: it takes the digest for an array.
  b.transport.on('digest', (remote, digest) => digest.forEach((entry) => got.push(entry.id)))
  a.transport.digest(b.peer, a.peer, 5)
  a.transport.digest(b.peer, a.peer, [{ id: 'a', maxVersionSeen: 0 }])
  await until(() => got.length === 1, 5000, 'the good digest')
  t.alike(errors, ['BAD_MESSAGE'], 'the one it could not walk reported')
  t.is(a.transport.stats().reconnects, 0, 'on the same connection')
})

test('gossipmonger: the real gossipmonger converges over this transport and survives peers it cannot reach', { skip: Gossipmonger === null }, async (t) => {
  const nodes = []
  for (const id of ['a', 'b', 'c']) {
    const { transport, peer } = await listening(t, id)
    nodes.push({ id, transport, peer })
  }
  const seed = { id: 'a', transport: nodes[0].peer.transport }
  const errors = []
  for (const n of nodes) {
    n.gm = new Gossipmonger({ id: n.id, transport: n.peer.transport }, { transport: n.transport, seeds: n.id === 'a' ? [] : [seed], GOSSIP_INTERVAL: 50 })
    n.seen = {}
    n.gm.on('update', (peerId, key, value) => (n.seen[key] = value))
    n.gm.on('error', (err) => errors.push(err.code))
    n.gm.update('key-' + n.id, 'value of ' + n.id)
    n.gm.gossip()
    t.teardown(() => clearTimeout(n.gm.timeout))
  }
  // A stranger's digest names a peer without a transport and one with a string port: gossipmonger
  // will gossip to both.
  const rogue = await listening(t, 'rogue')
  rogue.transport.digest(nodes[0].peer, rogue.peer, [
    { id: 'ghost', maxVersionSeen: 1 },
    { id: 'c', maxVersionSeen: 0, transport: { host: '127.0.0.1', port: String(nodes[2].peer.transport.port) } }
  ])
  const full = (n) => ['a', 'b', 'c'].every((id) => id === n.id || n.seen['key-' + id] === 'value of ' + id)
  await until(() => nodes.every(full), 15000, 'every node to have every key')
  t.ok(nodes.every(full), 'converged')
  await until(() => errors.includes('BAD_ADDRESS'), 15000, 'gossip to the ghost reported')
  t.pass('the peer without a transport was an error event, and the process lives')
})

// Three real gossipmonger nodes over this transport, listening on 127.0.0.1; `seedOf(a)` is how
// b and c spell the seed a; `optionsOf(id)` the options of each node's TcpTransport.
async function realCluster(t, seedOf, optionsOf = () => ({})) {
  const nodes = []
  for (const id of ['a', 'b', 'c']) {
    const { transport, peer } = await listening(t, id, 0, optionsOf(id))
    nodes.push({ id, transport, peer, seen: {}, errors: [] })
  }
  const seed = seedOf(nodes[0])
  for (const n of nodes) {
    n.gm = new Gossipmonger({ id: n.id, transport: n.peer.transport }, { transport: n.transport, seeds: n.id === 'a' ? [] : [seed], GOSSIP_INTERVAL: 50 })
    n.gm.on('update', (peerId, key, value) => (n.seen[key] = value))
    n.gm.on('error', (err) => n.errors.push(err))
    n.gm.update('key-' + n.id, 'value of ' + n.id)
    t.teardown(() => clearTimeout(n.gm.timeout))
  }
  return nodes
}

const converged = (nodes) => nodes.every((n) => ['a', 'b', 'c'].every((id) => id === n.id || n.seen['key-' + id] === 'value of ' + id))

test('gossipmonger: with the real gossipmonger, seeds spelled localhost:P converge with peers announcing 127.0.0.1:P', { skip: Gossipmonger === null }, async (t) => {
  const nodes = await realCluster(t, (a) => ({ id: 'a', transport: { host: 'localhost', port: a.peer.transport.port } }))
  for (const n of nodes) n.gm.gossip()
  await until(() => converged(nodes), 15000, 'every node to have every key')
  t.ok(converged(nodes), 'converged')
  t.alike(nodes.flatMap((n) => n.errors.map((e) => e.code)), [], 'no error on the way')
})

test('gossipmonger: with the real gossipmonger, a peer it cannot reach is an error event at the first failed dial; gossip goes on', { skip: Gossipmonger === null }, async (t) => {
  const backend = getTcpBackend()
  const dials = new Map()
  const counting = {
    name: backend.name,
    verifiesClientCertificates: backend.verifiesClientCertificates,
    listen: (opts) => backend.listen(opts),
    connect: (opts) => {
      dials.set(opts.port, (dials.get(opts.port) ?? 0) + 1)
      return backend.connect(opts)
    }
  }
  // A port that was free a moment ago: nobody listens there.
  const probe = await listening(t, 'probe')
  const gone = probe.transport.port
  await new Promise((resolve) => probe.transport.close(resolve))
  // Only b's dials are counted: the others may learn of the peer from b and dial it too.
  const nodes = await realCluster(t, (a) => ({ id: 'a', transport: a.peer.transport }), (id) => (id === 'b' ? { backend: counting } : {}))
  // Node b is told of a peer that is not there: gossipmonger will gossip to it as to any other.
  const a = nodes[0]
  const b = nodes[1]
  const reported = []
  b.gm.on('error', (err) => reported.push({ code: err.code, dials: dials.get(gone) ?? 0, message: err.message }))
  a.transport.digest(b.peer, a.peer, [{ id: 'gone', maxVersionSeen: 1, transport: { host: '127.0.0.1', port: gone } }])
  for (const n of nodes) n.gm.gossip()
  await until(() => reported.length > 0, 10000, 'the error event')
  t.is(reported[0].code, 'UNREACHABLE')
  t.is(reported[0].dials, 1, "reported at b's first failed dial")
  t.ok(reported[0].message.includes(`127.0.0.1:${gone}`), 'the message names the peer')
  await until(() => converged(nodes), 15000, 'every node to have every key')
  t.ok(converged(nodes), 'the others converge meanwhile')
})
