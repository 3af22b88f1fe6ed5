// The TcpBackend contract, run on whichever runtime executes this file against its own backend.
import test from 'brittle'
import b4a from 'b4a'
import { getTcpBackend, detectRuntime, DEFAULT_HIGH_WATER_MARK } from 'actor-cluster-bare'
import { HOST, waitFor, pattern, equalBytes, sleep, collect } from './helpers/net.js'

const backend = getTcpBackend()
// setImmediate where the runtime has it: it runs once the event loop has turned.
const nextTurn = typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0)
const runtime = detectRuntime()

async function echoServer(t, opts = {}) {
  const server = await backend.listen({
    host: HOST,
    port: 0,
    ...opts,
    onconnection(socket) {
      socket.ondata = (chunk) => {
        if (!socket.write(chunk)) {
          socket.pause()
          socket.ondrain = () => socket.resume()
        }
      }
      socket.onend = () => socket.end()
    }
  })
  t.teardown(() => server.close())
  return server
}

// A connected pair whose accepting side starts paused.
async function pausedPair(t) {
  let reader = null
  const server = await backend.listen({
    host: HOST,
    port: 0,
    onconnection(socket) {
      reader = socket
      socket.pause()
    }
  })
  t.teardown(() => server.close())
  const writer = await backend.connect({ host: HOST, port: server.port })
  while (reader === null) await sleep(5)
  t.teardown(() => {
    writer.destroy()
    reader.destroy()
  })
  return { reader, writer }
}

test(`${runtime}: getTcpBackend picks this runtime's backend`, (t) => {
  t.is(backend.name, runtime)
})

test(`${runtime}: listen on port 0 reports the real port, dial and exchange`, async (t) => {
  const server = await echoServer(t)
  t.ok(server.port > 0 && server.port < 65536, 'real port')
  t.is(server.host, HOST)

  const socket = await backend.connect({ host: HOST, port: server.port })
  t.teardown(() => socket.destroy())
  t.is(socket.remotePort, server.port, 'remote port')
  t.is(socket.remoteAddress, HOST, 'remote address')
  t.ok(socket.localPort > 0, 'local port')
  t.is(socket.encrypted, false)

  const reply = waitFor((done) => (socket.ondata = done), 5000, 'echo')
  socket.write(b4a.from('hello'))
  t.is(b4a.toString(await reply), 'hello')
})

test(`${runtime}: echo of 10 MiB is byte-exact`, async (t) => {
  const server = await echoServer(t)
  const socket = await backend.connect({ host: HOST, port: server.port })
  t.teardown(() => socket.destroy())

  const payload = pattern(10 * 1024 * 1024, 7)
  const received = collect(socket)
  const closed = waitFor((done) => (socket.onclose = done), 30000, 'close')

  // Write in uneven slices, honouring backpressure, then half-close.
  let offset = 0
  let slice = 1
  await new Promise((resolve) => {
    const pump = () => {
      while (offset < payload.byteLength) {
        const end = Math.min(payload.byteLength, offset + slice)
        const ok = socket.write(payload.subarray(offset, end))
        offset = end
        slice = (slice * 7 + 13) % 200_000 || 1
        if (!ok) {
          socket.ondrain = pump
          return
        }
      }
      socket.end()
      resolve()
    }
    pump()
  })

  await received.ended
  t.is(received.bytes, payload.byteLength, 'every byte came back')
  t.ok(equalBytes(received.all(), payload), 'content is identical')
  t.is(await closed, null, 'orderly close has no cause')
})

test(`${runtime}: a slow reader bounds the writer's buffered bytes`, async (t) => {
  const { reader, writer } = await pausedPair(t)

  const CHUNK = 64 * 1024
  const TOTAL = 48 * 1024 * 1024
  const chunk = pattern(CHUNK, 3)
  let written = 0
  let maxBuffered = 0
  let refusals = 0

  // The reader is paused: the writer must be told to stop well before TOTAL.
  const stopped = await new Promise((resolve) => {
    const pump = () => {
      while (written < TOTAL) {
        const ok = writer.write(chunk)
        written += CHUNK
        maxBuffered = Math.max(maxBuffered, writer.bufferedBytes)
        if (!ok) {
          refusals++
          return resolve(true)
        }
      }
      resolve(false)
    }
    pump()
  })
  t.ok(stopped, 'write() said stop while the reader was paused')
  t.ok(written < TOTAL, `stopped after ${written} bytes`)
  t.ok(
    maxBuffered <= DEFAULT_HIGH_WATER_MARK + CHUNK,
    `buffered ${maxBuffered} bytes, bound ${DEFAULT_HIGH_WATER_MARK + CHUNK}`
  )

  // Resume slowly and let the writer finish, still honouring the signal each time.
  let received = 0
  reader.ondata = (c) => {
    received += c.byteLength
  }
  reader.resume()
  await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('writer never finished')), 60000)
    const pump = () => {
      while (written < TOTAL) {
        const ok = writer.write(chunk)
        written += CHUNK
        maxBuffered = Math.max(maxBuffered, writer.bufferedBytes)
        if (!ok) {
          refusals++
          writer.ondrain = pump
          return
        }
      }
      clearTimeout(deadline)
      resolve()
    }
    writer.ondrain = pump
  })
  t.ok(maxBuffered <= DEFAULT_HIGH_WATER_MARK + CHUNK, 'bound held to the end')
  const until = Date.now() + 30000
  while (received < TOTAL && Date.now() < until) await sleep(10)
  t.is(received, TOTAL, 'reader got everything once resumed')
})

test(`${runtime}: a socket that always has data waiting still lets the event loop turn`, async (t) => {
  const { reader, writer } = await pausedPair(t)
  // Fill the kernel's buffers while the reader is paused, so every read finds data waiting.
  const TOTAL = 16 * 1024 * 1024
  const chunk = pattern(64 * 1024, 5)
  for (let n = 0; n < TOTAL; n += chunk.byteLength) writer.write(chunk)
  await sleep(200)
  let received = 0
  let atLastTurn = 0
  let most = 0
  reader.ondata = (data) => {
    received += data.byteLength
  }
  const turn = () => {
    most = Math.max(most, received - atLastTurn)
    atLastTurn = received
    if (received < TOTAL) nextTurn(turn)
  }
  reader.resume()
  nextTurn(turn)
  const deadline = Date.now() + 10000
  while (received < TOTAL && Date.now() < deadline) await sleep(5)
  t.is(received, TOTAL, 'all bytes arrived')
  t.comment(`at most ${most} bytes between two turns of the event loop`)
  t.ok(most <= 3 * 1024 * 1024, 'no more than a few MiB read without a turn')
})

test(`${runtime}: half-close lets the other side finish writing`, async (t) => {
  t.plan(5)
  const enc = { encode: (s) => b4a.from(s) }
  const dec = { decode: (b) => b4a.toString(b) }
  const server = await backend.listen({
    host: HOST,
    port: 0,
    onconnection(socket) {
      const got = []
      socket.ondata = (c) => got.push(dec.decode(c))
      socket.onend = () => {
        t.is(got.join(''), 'request', 'server read the whole request before end')
        socket.write(enc.encode('reply after your end'))
        socket.end()
      }
      socket.onclose = (cause) => t.is(cause, null, 'server side closes cleanly')
    }
  })
  t.teardown(() => server.close())

  const client = await backend.connect({ host: HOST, port: server.port })
  const received = collect(client)
  const closed = waitFor((done) => (client.onclose = done), 5000, 'client close')
  client.write(enc.encode('request'))
  client.end()
  await received.ended
  t.is(dec.decode(received.all()), 'reply after your end', 'client reads after its own end')
  client.end()
  t.is(await closed, null, 'client side closes cleanly')
  t.ok(client.closed, 'closed is set')
})

test(`${runtime}: destroy with a cause reports that cause; the peer sees the close`, async (t) => {
  let peer = null
  const peerClosed = new Promise((resolve) => {
    backend
      .listen({
        host: HOST,
        port: 0,
        onconnection(socket) {
          peer = socket
          // The peer learns of the close as an end of stream and ends its own side.
          socket.onend = () => socket.end()
          socket.onclose = resolve
        }
      })
      .then(async (server) => {
        t.teardown(() => server.close())
        const client = await backend.connect({ host: HOST, port: server.port })
        const closed = waitFor((done) => (client.onclose = done), 5000, 'close')
        while (peer === null) await sleep(5)
        const { ClusterError } = await import('actor-cluster-bare')
        client.destroy(ClusterError.BAD_FRAME('test cause'))
        const cause = await closed
        t.is(cause?.code, 'BAD_FRAME', 'local close carries the given cause')
        t.is(client.write(new Uint8Array(1)), false, 'writes after close are refused')
      })
  })
  const cause = await waitFor((done) => peerClosed.then(done), 5000, 'peer close')
  t.ok(cause === null || typeof cause.code === 'string', 'peer close cause is null or a ClusterError')
})

test(`${runtime}: dialling a closed port fails with CONNECT_FAILED`, async (t) => {
  const server = await backend.listen({ host: HOST, port: 0, onconnection() {} })
  const port = server.port
  await server.close()
  await t.exception(backend.connect({ host: HOST, port }), /CONNECT_FAILED/)
})

test(`${runtime}: listening on a taken port fails with LISTEN_FAILED`, async (t) => {
  const server = await backend.listen({ host: HOST, port: 0, onconnection() {} })
  t.teardown(() => server.close())
  await t.exception(backend.listen({ host: HOST, port: server.port, onconnection() {} }), /LISTEN_FAILED/)
})

test(`${runtime}: hostnames resolve`, async (t) => {
  const server = await echoServer(t, { host: '127.0.0.1' })
  const socket = await backend.connect({ host: 'localhost', port: server.port })
  t.teardown(() => socket.destroy())
  const reply = waitFor((done) => (socket.ondata = done), 5000, 'echo')
  socket.write(new Uint8Array([1, 2, 3]))
  t.alike(Array.from(await reply), [1, 2, 3])
})

test(`${runtime}: half-configured TLS is refused, never plaintext`, async (t) => {
  const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
  await t.exception(backend.listen({ host: HOST, port: 0, tls: { cert: pem }, onconnection() {} }), /TLS_CONFIG/)
  await t.exception(backend.connect({ host: HOST, port: 1, tls: { key: pem } }), /TLS_CONFIG/)
  await t.exception(backend.connect({ host: HOST, port: 1, tls: {} }), /TLS_CONFIG/)
})

test(`${runtime}: 200 connections at once`, async (t) => {
  const COUNT = 200
  const server = await echoServer(t)
  const sockets = await Promise.all(
    Array.from({ length: COUNT }, () => backend.connect({ host: HOST, port: server.port }))
  )
  t.teardown(() => sockets.forEach((s) => s.destroy()))
  const replies = await Promise.all(
    sockets.map((s, i) => {
      const reply = waitFor((done) => (s.ondata = done), 10000, 'echo ' + i)
      s.write(new Uint8Array([i & 0xff, i >> 8]))
      return reply
    })
  )
  let right = 0
  replies.forEach((r, i) => {
    if (r[0] === (i & 0xff) && r[1] === i >> 8) right++
  })
  t.is(right, COUNT, 'each connection got its own echo')
})
