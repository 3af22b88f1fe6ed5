// The cluster secret, recipients and dial limits.
import test from 'brittle'
import { getTcpBackend, detectRuntime, encodeFrame } from 'actor-cluster-bare'
import { tcpNode, until, envelope } from './helpers/transport.js'
import { HOST, sleep, concat } from './helpers/net.js'

const runtime = detectRuntime()
const backend = getTcpBackend()
const SECRET = 'correct horse battery staple, at length'

function errorsOf(node) {
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  return codes
}

test(`${runtime}: nodes with the same secret talk`, async (t) => {
  const a = await tcpNode(t, 'a', { secret: SECRET })
  const b = await tcpNode(t, 'b', { secret: SECRET })
  for (let i = 0; i < 50; i++) a.send(b.self, envelope(i))
  b.send(a.self, envelope(99))
  await until(() => b.received.length === 50 && a.received.length === 1)
  t.is(b.received[49].msg.manifest, 'n:49')
})

test(`${runtime}: a wrong secret is refused on both sides, before any message`, async (t) => {
  const a = await tcpNode(t, 'a', { secret: SECRET, maxDialAttempts: 1 })
  const b = await tcpNode(t, 'b', { secret: 'another secret, just as long' })
  const aErrors = errorsOf(a)
  const bErrors = errorsOf(b)
  a.send(b.self, envelope(0))
  await until(() => aErrors.includes('AUTH_FAILED') && bErrors.includes('AUTH_FAILED'), 5000, 'both refuse')
  await until(() => (a.stats(b.self)?.drops.unreachable ?? 0) === 1, 5000, 'the envelope counted as undeliverable')
  t.is(b.received.length, 0, 'nothing reached b')
  t.is(b.peers().length, 0)
})

test(`${runtime}: a missing secret is refused both ways`, async (t) => {
  const guarded = await tcpNode(t, 'guarded', { secret: SECRET })
  const open = await tcpNode(t, 'open', { maxDialAttempts: 1 })
  const gErrors = errorsOf(guarded)
  const oErrors = errorsOf(open)
  open.send(guarded.self, envelope(0)) // no secret dials a secret
  await until(() => gErrors.includes('AUTH_FAILED') && oErrors.includes('AUTH_FAILED'), 5000, 'refused when dialling')
  const guarded2 = await tcpNode(t, 'guarded2', { secret: SECRET, maxDialAttempts: 1 })
  const g2Errors = errorsOf(guarded2)
  oErrors.length = 0
  guarded2.send(open.self, envelope(1)) // a secret dials no secret
  await until(() => g2Errors.includes('AUTH_FAILED') && oErrors.includes('AUTH_FAILED'), 5000, 'refused when dialled')
  t.is(guarded.received.length + open.received.length, 0, 'nothing delivered either way')
})

test(`${runtime}: a recorded handshake replayed to the node is refused`, async (t) => {
  const b = await tcpNode(t, 'b', { secret: SECRET })
  // A relay in front of b that records what the dialler sends.
  const recorded = []
  const relay = await backend.listen({
    host: HOST,
    port: 0,
    async onconnection(inbound) {
      inbound.pause() // nothing may arrive before the handlers are set
      const outbound = await backend.connect({ host: HOST, port: b.self.port })
      inbound.resume()
      inbound.ondata = (c) => {
        recorded.push(c.slice())
        outbound.write(c)
      }
      outbound.ondata = (c) => inbound.write(c)
      inbound.onend = () => outbound.end()
      outbound.onend = () => inbound.end()
      t.teardown(() => {
        inbound.destroy()
        outbound.destroy()
      })
    }
  })
  t.teardown(() => relay.close())
  // The dialler dials b's address, redirected through the relay.
  const a = await tcpNode(t, 'a', { secret: SECRET, backend: redirect(backend, b.self.port, relay.port) })
  a.send(b.self, envelope(0))
  await until(() => b.received.length === 1, 5000, 'the recorded session worked')
  const errors = errorsOf(b)
  // Replay every byte the dialler sent, on a fresh connection.
  const replay = await backend.connect({ host: HOST, port: b.self.port })
  const closed = new Promise((resolve) => (replay.onclose = resolve))
  replay.onend = () => replay.end()
  for (const c of recorded) replay.write(c)
  await closed
  await until(() => errors.includes('AUTH_FAILED'), 3000, 'AUTH_FAILED')
  t.is(b.received.length, 1, 'the replayed envelope was not delivered')
})

test(`${runtime}: dials are limited to maxConcurrentDials; the rest wait their turn`, async (t) => {
  let inFlight = 0
  let most = 0
  const counting = {
    name: backend.name,
    verifiesClientCertificates: backend.verifiesClientCertificates,
    listen: (o) => backend.listen(o),
    async connect(o) {
      inFlight++
      most = Math.max(most, inFlight)
      try {
        await sleep(20)
        return await backend.connect(o)
      } finally {
        inFlight--
      }
    }
  }
  const a = await tcpNode(t, 'a', { backend: counting, maxConcurrentDials: 2 })
  const targets = []
  for (let i = 0; i < 6; i++) targets.push(await tcpNode(t, 'b' + i))
  for (const b of targets) a.send(b.self, envelope(0))
  await until(() => targets.every((b) => b.received.length === 1), 10000, 'all reached')
  t.ok(most <= 2, `at most ${most} dials at once`)
  t.ok(a.stats().dialsQueued >= 4, `${a.stats().dialsQueued} dials waited their turn`)
})

test(`${runtime}: a stranger refused as a duplicate cannot slip frames in behind its hello`, async (t) => {
  const a = await tcpNode(t, 'a', { secret: SECRET })
  const b = await tcpNode(t, 'b', { secret: SECRET })
  b.send(a.self, envelope(0)) // b dials a: b now has a connection to a it dialled
  await until(() => a.received.length === 1 && b.peers().length === 1)
  // Without the secret, claim to be a (same incarnation, so b refuses it as a duplicate before
  // any proof) and send an envelope in the same write.
  const hello = {
    kind: 'hello', minVersion: 1, maxVersion: 1, cluster: 'test', from: a.self.toString(),
    incarnation: a.incarnation, maxFrameBytes: 1 << 20, features: 1, nonce: new Uint8Array(32), proof: null
  }
  const socket = await backend.connect({ host: HOST, port: b.self.port })
  const closed = new Promise((resolve) => (socket.onclose = resolve))
  socket.onend = () => socket.end()
  socket.write(concat([encodeFrame(hello), encodeFrame(envelope(666))]))
  await closed
  a.send(b.self, envelope(1))
  await until(() => b.received.length === 1, 5000, "a's own envelope")
  t.alike(b.received.map((r) => r.msg.manifest), ['n:1'], 'only what a itself sent reached b')
})

// Dials `from` port go to `to` port instead.
function redirect(inner, from, to) {
  return {
    name: inner.name,
    verifiesClientCertificates: inner.verifiesClientCertificates,
    listen: (o) => inner.listen(o),
    connect: (o) => inner.connect({ ...o, port: o.port === from ? to : o.port })
  }
}

test(`${runtime}: the secret works over TLS too; a TLS peer without it is refused`, async (t) => {
  const { makeCerts } = await import('./helpers/certs.js')
  const certs = await makeCerts()
  const tls = { cert: certs.cert, key: certs.key, ca: certs.ca }
  const a = await tcpNode(t, 'a', { tls, secret: SECRET })
  const b = await tcpNode(t, 'b', { tls, secret: SECRET })
  const intruder = await tcpNode(t, 'intruder', { tls, maxDialAttempts: 1 })
  const bErrors = errorsOf(b)
  a.send(b.self, envelope(0))
  intruder.send(b.self, envelope(1))
  await until(() => b.received.length === 1 && bErrors.includes('AUTH_FAILED'), 5000)
  t.is(b.received[0].msg.manifest, 'n:0', 'only the node with the secret got through')
})

test(`${runtime}: a TLS node warns when its runtime cannot check client certificates and no secret is set`, async (t) => {
  const { makeCerts } = await import('./helpers/certs.js')
  const { createLogger } = await import('actor-cluster-bare')
  const certs = await makeCerts()
  const tls = { cert: certs.cert, key: certs.key, ca: certs.ca }
  const warnings = []
  const log = createLogger('warn', (r) => warnings.push(r.msg))
  await tcpNode(t, 'plain-tls', { tls, log })
  await tcpNode(t, 'tls-with-secret', { tls, log, secret: SECRET })
  const warned = warnings.filter((w) => /does not check client certificates/.test(w)).length
  t.is(warned, backend.verifiesClientCertificates ? 0 : 1, backend.verifiesClientCertificates ? 'no warning: certificates are checked' : 'one warning, for the node without a secret')
})
