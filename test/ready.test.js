// Joining you can await, and misconfiguration that speaks: cluster.ready() resolves once the node
// is up and fails with READY_TIMEOUT naming the seeds and their answers; mismatched settings are
// warned about on both sides, once per peer and cause; membership changes of reachability are info.
import test from 'brittle'
import { Cluster, createLogger, getTcpBackend } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './helpers/transport.js'

const SECRET = 'a cluster secret of some length'

// A cluster node whose log lines (info and up) are kept in `lines`.
async function node(t, name, opts = {}) {
  const lines = []
  const log = createLogger('info', (r) => lines.push(`${r.level} ${r.msg}`))
  const cluster = await Cluster.join({ name, log }, { ...FAST_CLUSTER, port: 0, ...opts })
  t.teardown(() => cluster.shutdown())
  cluster.lines = lines
  return cluster
}

// A port with nobody listening: taken from the system, then given back.
async function freePort() {
  const backend = getTcpBackend()
  const server = await backend.listen({ host: '127.0.0.1', port: 0, onconnection: (s) => s.destroy(null) })
  const port = server.port
  await server.close()
  return port
}

const seedOf = (c) => `127.0.0.1:${c.self.port}`
const warns = (c, re) => c.lines.filter((l) => l.startsWith('warn ') && re.test(l))

test('ready() resolves once the node is up, for the first node and for one joining through it', async (t) => {
  const a = await node(t, 'ready')
  await a.ready({ timeoutMs: 5000 })
  t.is(a.member(a.self).status, 'up', 'the first node is up')
  const b = await node(t, 'ready', { seeds: [seedOf(a)] })
  t.absent(b.isReady(), 'not up right after join')
  await b.ready({ timeoutMs: 5000 })
  t.is(b.member(b.self).status, 'up', 'the joining node is up when ready resolves')
  await b.ready() // already up: at once
  t.ok(b.status().ready)
})

test('ready() on a client-only node resolves once it has a view of the cluster', async (t) => {
  const a = await node(t, 'ready-client')
  await a.ready({ timeoutMs: 5000 })
  const c = await node(t, 'ready-client', { seeds: [seedOf(a)], clientOnly: true })
  await c.ready({ timeoutMs: 5000 })
  t.ok(c.members().some((m) => m.address.equals(a.self) && m.status === 'up'), 'it sees the member')
})

test('ready() with a seed nobody runs rejects with READY_TIMEOUT naming the seed, and the retry is said at info', async (t) => {
  const port = await freePort()
  const b = await node(t, 'ready-alone', { seeds: [`127.0.0.1:${port}`] })
  const started = Date.now()
  const err = await b.ready({ timeoutMs: 1500 }).catch((e) => e)
  t.is(err.code, 'READY_TIMEOUT')
  t.ok(Date.now() - started >= 1400, 'after the timeout')
  t.ok(err.message.includes(`127.0.0.1:${port} (`) && /ECONNREFUSED/.test(err.message), `names the seed and its answer: ${err.message}`)
  t.ok(err.message.includes('1500 ms'), 'says how long it waited')
  const info = b.lines.filter((l) => l.startsWith('info ') && l.includes('not in the cluster yet') && l.includes(`127.0.0.1:${port}`))
  t.is(info.length, 1, 'the first retry is said once, at info, with the seed')
  const unreachable = b.lines.filter((l) => l.startsWith('info ') && l.includes(`seed 127.0.0.1:${port} cannot be reached (`) && /ECONN(REFUSED|RESET)/.test(l))
  // The reason is the first dial's: refused, or on Deno sometimes reset, by a port just closed.
  t.is(unreachable.length, 1, 'the unreachable seed is said once, at info, with the reason')
})

test('ready() rejects when the node stops before it is up', async (t) => {
  const port = await freePort()
  const b = await node(t, 'ready-stop', { seeds: [`127.0.0.1:${port}`] })
  const waiting = b.ready({ timeoutMs: 10000 }).catch((e) => e)
  await b.shutdown()
  t.is((await waiting).code, 'TRANSPORT_CLOSED')
  t.is((await b.ready().catch((e) => e)).code, 'TRANSPORT_CLOSED', 'and so does a later call')
})

test('a cluster-name mismatch is a warning on both sides, once, naming the names', async (t) => {
  const a = await node(t, 'alpha')
  const b = await node(t, 'beta', { seeds: [seedOf(a)] })
  await until(() => warns(a, /cluster/).length > 0 && warns(b, /cluster/).length > 0, 5000, 'both warned')
  await new Promise((resolve) => setTimeout(resolve, 500)) // more redials go by
  t.is(warns(a, /cluster/).length, 1, `once on the seed: ${warns(a, /cluster/)[0]}`)
  t.is(warns(b, /cluster/).length, 1, `once on the joining node: ${warns(b, /cluster/)[0]}`)
  t.ok(warns(a, /cluster/)[0].includes(`peer ${seedOf(b)} is in cluster "beta", this node in "alpha"`), 'the seed names the peer and both names')
  t.ok(warns(b, /cluster/)[0].includes(`peer ${seedOf(a)} is in cluster "alpha", this node in "beta"`), 'so does the joining node')
  const err = await b.ready({ timeoutMs: 300 }).catch((e) => e)
  t.ok(err.code === 'READY_TIMEOUT' && /cluster/.test(err.message), `ready() says what the seed answered: ${err.message}`)
})

test('a secret on one side only is a warning on both sides saying which side lacks it', async (t) => {
  const a = await node(t, 'secret', { secret: SECRET })
  const b = await node(t, 'secret', { seeds: [seedOf(a)] })
  await until(() => warns(a, /secret/).length > 0 && warns(b, /secret/).length > 0, 5000, 'both warned')
  t.ok(warns(a, /secret/)[0].includes(`peer ${seedOf(b)} has no cluster secret; this node requires one`), `the seed: ${warns(a, /secret/)[0]}`)
  t.ok(warns(b, /secret/)[0].includes(`peer ${seedOf(a)} requires a cluster secret; this node has none`), `the joining node: ${warns(b, /secret/)[0]}`)
  t.is(warns(a, /secret/).length, 1, 'once')
  // And the other way round.
  const c = await node(t, 'secret2')
  const d = await node(t, 'secret2', { secret: SECRET, seeds: [seedOf(c)] })
  await until(() => warns(c, /secret/).length > 0 && warns(d, /secret/).length > 0, 5000, 'both warned')
  t.ok(warns(c, /secret/)[0].includes(`peer ${seedOf(d)} uses a cluster secret; this node has none`), `the seed: ${warns(c, /secret/)[0]}`)
  t.ok(warns(d, /secret/)[0].includes(`peer ${seedOf(c)} has no cluster secret; this node uses one`), `the joining node: ${warns(d, /secret/)[0]}`)
})

test('a wrong secret is a warning on both sides', async (t) => {
  const a = await node(t, 'wrong-secret', { secret: SECRET })
  const b = await node(t, 'wrong-secret', { secret: SECRET + ' but another', seeds: [seedOf(a)] })
  await until(() => warns(a, /secret/).length > 0 && warns(b, /secret/).length > 0, 5000, 'both warned')
  t.ok(warns(a, /secret/)[0].includes(`peer ${seedOf(b)} does not share this node's cluster secret`), `seed: ${warns(a, /secret/)[0]}`)
  t.ok(warns(b, /secret/)[0].includes(`peer ${seedOf(a)} does not share this node's cluster secret`), `joining: ${warns(b, /secret/)[0]}`)
})

test('TLS on one side only is a warning on both sides, whichever side dials', async (t) => {
  const { makeCerts } = await import('./helpers/certs.js')
  const certs = await makeCerts()
  const tls = { cert: certs.cert, key: certs.key, ca: certs.ca }
  for (const [what, seedTls, joinTls] of [['the seed has TLS', tls, null], ['the joining node has TLS', null, tls]]) {
    const a = await node(t, 'tls-one-side', { tls: seedTls, secret: SECRET })
    const b = await node(t, 'tls-one-side', { tls: joinTls, secret: SECRET, seeds: [seedOf(a)] })
    await until(() => warns(a, /TLS|tls/).length > 0 && warns(b, /TLS|tls/).length > 0, 5000, `${what}: both warned`)
    t.ok(warns(a, /set `tls` on every node/).length === 1, `${what}, seed: ${warns(a, /tls/)[0]}`)
    t.ok(warns(b, /set `tls` on every node/).length === 1, `${what}, joining: ${warns(b, /tls/)[0]}`)
    await a.shutdown()
    await b.shutdown()
  }
})

test('no common wire version is a warning on both sides with both ranges', async (t) => {
  const { encodeFrame, FrameDecoder, WIRE_VERSION, MIN_WIRE_VERSION } = await import('actor-cluster-bare')
  const backend = getTcpBackend()
  // This node's listener, and a peer that offers versions 7-9 only.
  const a = await node(t, 'versions')
  const socket = await backend.connect({ host: '127.0.0.1', port: a.self.port })
  t.teardown(() => socket.destroy(null))
  const decoder = new FrameDecoder({ maxFrameBytes: 65536 })
  const got = []
  socket.ondata = (chunk) => got.push(...decoder.push(chunk))
  socket.onclose = () => {}
  const nonce = new Uint8Array(32)
  socket.write(encodeFrame({ kind: 'hello', minVersion: 7, maxVersion: 9, cluster: 'versions', from: 'actor-cluster://versions@127.0.0.1:4999', incarnation: 1, maxFrameBytes: 65536, features: 0, nonce, proof: null }))
  await until(() => warns(a, /wire version/).length > 0 && got.length > 0, 5000, 'warned and answered')
  t.ok(warns(a, /wire version/)[0].includes(`peer 127.0.0.1:4999 speaks wire versions 7-9, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`), warns(a, /wire version/)[0])
  t.alike(got[0], { kind: 'goodbye', reason: `incompatible wire version: ${MIN_WIRE_VERSION}-${WIRE_VERSION}` }, 'the goodbye carries this node\'s range')
  // A listener that refuses this node's versions the same way.
  const server = await backend.listen({
    host: '127.0.0.1',
    port: 0,
    onconnection: (s) => {
      s.ondata = () => {
        s.write(encodeFrame({ kind: 'goodbye', reason: 'incompatible wire version: 7-9' }))
        s.end()
      }
      s.onclose = () => {}
    }
  })
  t.teardown(() => server.close())
  const b = await node(t, 'versions', { seeds: [`127.0.0.1:${server.port}`] })
  await until(() => warns(b, /wire version/).length > 0, 5000, 'the dialler warned')
  t.ok(warns(b, /wire version/)[0].includes(`peer 127.0.0.1:${server.port} speaks wire versions 7-9, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`), warns(b, /wire version/)[0])
})

test('members becoming unreachable and reachable again are info lines', async (t) => {
  const a = await node(t, 'reach')
  const b = await node(t, 'reach', { seeds: [seedOf(a)] })
  await Promise.all([a.ready({ timeoutMs: 5000 }), b.ready({ timeoutMs: 5000 })])
  // Silence b's heartbeat answers for a while by hiding the acks a's transport reports.
  const transport = a.transport
  const emit = transport.emit
  transport.emit = function (event, ...args) {
    return event === 'heartbeat' ? false : emit.call(this, event, ...args)
  }
  await until(() => a.lines.some((l) => l.startsWith('info ') && l.includes(`${b.self} is unreachable`)), 5000, 'unreachable said')
  transport.emit = emit
  await until(() => a.lines.some((l) => l.startsWith('info ') && l.includes(`${b.self} is reachable again`)), 5000, 'reachable said')
  t.pass('both said at info')
})

test('every line names its node, and the console format carries time and level', async (t) => {
  const { formatRecord } = await import('actor-cluster-bare')
  const a = await node(t, 'lines')
  await a.ready({ timeoutMs: 5000 })
  t.ok(a.lines.some((l) => l.includes(a.self.key + ' [cluster]')), 'cluster lines name the node')
  const line = formatRecord({ level: 'warn', msg: 'x', rest: [], time: Date.UTC(2026, 0, 2, 3, 4, 5, 6) })
  t.is(line, '2026-01-02T03:04:05.006Z WARN  x')
})
