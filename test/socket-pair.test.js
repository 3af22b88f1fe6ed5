// The in-process socket pair (test/helpers/socket-pair.js) holds to the socket contract the
// backends fill, so what a test runs over it would run over TCP.
import test from 'brittle'
import { ClusterError, DEFAULT_HIGH_WATER_MARK } from 'actor-cluster-bare'
import { socketPair } from './helpers/socket-pair.js'
import { collect, equalBytes, pattern, waitFor } from './helpers/net.js'
import { until } from './helpers/transport.js'

test('socket pair: 4 MiB in uneven slices, honouring backpressure, arrive byte-exact', async (t) => {
  const [writer, reader] = socketPair()
  const payload = pattern(4 * 1024 * 1024, 11)
  const received = collect(reader)
  reader.onend = () => reader.end()
  const ended = new Promise((resolve) => {
    const onend = reader.onend
    reader.onend = () => {
      onend()
      resolve()
    }
  })
  const closed = waitFor((done) => (writer.onclose = done), 5000, 'close')
  let offset = 0
  let slice = 1
  await new Promise((resolve) => {
    const pump = () => {
      while (offset < payload.byteLength) {
        const end = Math.min(payload.byteLength, offset + slice)
        const ok = writer.write(payload.subarray(offset, end))
        offset = end
        slice = (slice * 7 + 13) % 200_000 || 1
        if (!ok) {
          writer.ondrain = pump
          return
        }
      }
      writer.end()
      resolve()
    }
    pump()
  })
  await ended
  t.ok(equalBytes(received.all(), payload), 'content is identical')
  t.is(await closed, null, 'orderly close has no cause')
  t.ok(writer.closed && reader.closed, 'both closed')
})

test("socket pair: a paused reader bounds the writer's buffered bytes", async (t) => {
  const [writer, reader] = socketPair()
  reader.pause()
  const chunk = pattern(64 * 1024, 3)
  let written = 0
  while (writer.write(chunk)) written += chunk.byteLength
  written += chunk.byteLength
  t.ok(written <= DEFAULT_HIGH_WATER_MARK + chunk.byteLength, `write() said stop after ${written} bytes`)
  t.is(writer.bufferedBytes, written, 'all of it buffered')
  let got = 0
  reader.ondata = (c) => (got += c.byteLength)
  const drained = waitFor((done) => (writer.ondrain = done), 5000, 'drain')
  reader.resume()
  await drained
  t.ok(writer.bufferedBytes < DEFAULT_HIGH_WATER_MARK, 'drain once below the high-water mark')
  await until(() => got === written, 5000, 'the rest')
  t.is(got, written, 'the reader got everything once resumed')
  writer.destroy()
})

test('socket pair: half-close lets the other side finish writing', async (t) => {
  const [client, server] = socketPair()
  const got = collect(server)
  server.onend = () => {
    server.write(new Uint8Array([9]))
    server.end()
  }
  const reply = collect(client)
  const closed = waitFor((done) => (client.onclose = done), 5000, 'close')
  client.write(new Uint8Array([1, 2]))
  client.end()
  await reply.ended
  t.alike(Array.from(got.all()), [1, 2], 'the request, whole, before the end')
  t.alike(Array.from(reply.all()), [9], 'the client reads after its own end')
  t.is(await closed, null)
})

test('socket pair: destroy with a cause reports it; the other side sees a close', async (t) => {
  const [a, b] = socketPair()
  const mine = waitFor((done) => (a.onclose = done), 5000, 'close')
  const theirs = waitFor((done) => (b.onclose = done), 5000, 'peer close')
  a.destroy(ClusterError.BAD_FRAME('test cause'))
  t.is((await mine)?.code, 'BAD_FRAME', 'local close carries the given cause')
  t.is(await theirs, null, 'the other side closes without one')
  t.is(a.write(new Uint8Array(1)), false, 'writes after close are refused')
})
