// TLS through the backend contract, on whichever runtime runs this file.
import test from 'brittle'
import b4a from 'b4a'
import { getTcpBackend, detectRuntime } from 'actor-cluster-bare'
import { makeCerts } from './helpers/certs.js'
import { HOST, waitFor, pattern, equalBytes, collect, sleep } from './helpers/net.js'

const backend = getTcpBackend()
const runtime = detectRuntime()
const certs = await makeCerts()
const tls = { cert: certs.cert, key: certs.key, ca: certs.ca }

async function tlsEcho(t, settings = tls) {
  const errors = []
  const accepted = []
  const server = await backend.listen({
    host: HOST,
    port: 0,
    tls: settings,
    onconnection(socket) {
      accepted.push(socket)
      socket.ondata = (c) => {
        if (!socket.write(c)) {
          socket.pause()
          socket.ondrain = () => socket.resume()
        }
      }
      socket.onend = () => socket.end()
    },
    onerror: (err) => errors.push(err)
  })
  t.teardown(async () => {
    accepted.forEach((s) => s.destroy())
    await server.close()
  })
  return { server, errors, accepted }
}

test(`${runtime}: TLS echo of 1 MiB, byte-exact, both sides encrypted`, async (t) => {
  const { server, accepted } = await tlsEcho(t)
  const socket = await backend.connect({ host: HOST, port: server.port, tls })
  t.teardown(() => socket.destroy())
  t.is(socket.encrypted, true, 'dialler encrypted')
  const payload = pattern(1024 * 1024, 5)
  const received = collect(socket)
  let offset = 0
  const pump = () => {
    while (offset < payload.byteLength) {
      const ok = socket.write(payload.subarray(offset, offset + 65536))
      offset += 65536
      if (!ok) return
    }
    socket.end()
  }
  socket.ondrain = pump
  pump()
  await received.ended
  t.ok(equalBytes(received.all(), payload), 'content identical')
  t.is(accepted[0]?.encrypted, true, 'listener side encrypted')
})

test(`${runtime}: TLS by hostname checks the certificate's name`, async (t) => {
  const { server } = await tlsEcho(t)
  const socket = await backend.connect({ host: 'localhost', port: server.port, tls })
  t.teardown(() => socket.destroy())
  const reply = waitFor((done) => (socket.ondata = done), 5000, 'echo')
  socket.write(b4a.from('hi'))
  t.is(b4a.toString(await reply), 'hi')
})

test(`${runtime}: a plaintext dialler gets nothing from a TLS listener`, async (t) => {
  const { server, accepted } = await tlsEcho(t)
  const plain = await backend.connect({ host: HOST, port: server.port })
  const closed = waitFor((done) => (plain.onclose = done), 10000, 'plaintext close')
  plain.onend = () => plain.end()
  const seen = []
  plain.ondata = (c) => seen.push(c)
  plain.write(b4a.from('\u0000\u0000\u0000\u0010plaintext hello!'))
  await closed
  await sleep(50)
  t.is(accepted.length, 0, 'the listener handed over no connection')
  t.ok(!seen.some((c) => b4a.toString(c).includes('plaintext hello')), 'nothing echoed in the clear')
})

test(`${runtime}: a listener certificate from another CA is refused`, async (t) => {
  const { server, accepted } = await tlsEcho(t)
  await t.exception(
    backend.connect({ host: HOST, port: server.port, tls: { cert: certs.otherCert, key: certs.otherKey, ca: certs.otherCa } }),
    /CONNECT_FAILED/
  )
  await sleep(50)
  t.is(accepted.length, 0, 'no connection handed over')
})

test(`${runtime}: a dialler certificate from another CA`, async (t) => {
  const { server, accepted } = await tlsEcho(t)
  const stranger = { cert: certs.otherCert, key: certs.otherKey, ca: certs.ca }
  if (!backend.verifiesClientCertificates) {
    // Documented: this runtime's TLS listener does not check client certificates; the cluster
    // secret is what keeps strangers out here.
    const socket = await backend.connect({ host: HOST, port: server.port, tls: stranger })
    t.teardown(() => socket.destroy())
    t.comment(`${runtime} does not verify client certificates`)
    t.is(backend.verifiesClientCertificates, false)
    return
  }
  let refused = false
  try {
    const socket = await backend.connect({ host: HOST, port: server.port, tls: stranger })
    // TLS 1.3 reports the listener's refusal after the dialler's handshake: the socket dies.
    const cause = await waitFor((done) => {
      socket.onclose = done
      socket.onend = () => socket.end()
      socket.write(b4a.from('x'))
    }, 10000, 'refusal')
    refused = cause !== undefined
  } catch (err) {
    refused = err.code === 'CONNECT_FAILED'
  }
  await sleep(50)
  t.ok(refused, 'the dialler was refused')
  t.is(accepted.length, 0, 'the listener handed over no connection')
})

test(`${runtime}: serverName picks the name checked in the listener's certificate`, async (t) => {
  const { server } = await tlsEcho(t)
  if (runtime === 'deno') {
    await t.exception(backend.connect({ host: HOST, port: server.port, tls: { ...tls, serverName: 'localhost' } }), /TLS_UNSUPPORTED/)
    return
  }
  const socket = await backend.connect({ host: HOST, port: server.port, tls: { ...tls, serverName: 'localhost' } })
  t.teardown(() => socket.destroy())
  t.is(socket.encrypted, true, 'dialled by IP, checked as localhost')
  await t.exception(backend.connect({ host: HOST, port: server.port, tls: { ...tls, serverName: 'not-this-host.example' } }), /CONNECT_FAILED/)
})
