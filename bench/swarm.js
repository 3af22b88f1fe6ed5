// Envelopes per second over SwarmTransport beside a raw hyperswarm (secret-stream) connection
// with the same batching (length-prefixed messages packed into writes of up to 256 KiB, the
// transport's own batch size), both in one process on a loopback testnet, run by run
// interleaved; each figure the median of the runs, with the transport's ratio to the raw stream.
//   node bench/swarm.js [--runs 3] [--ms 2000] [--size 64]      (or: bare bench/swarm.js ...)
import b4a from 'b4a'
import createTestnet from 'hyperdht/testnet.js'
import Hyperswarm from 'hyperswarm'
import HyperDHT from 'hyperdht'
import { SwarmTransport } from 'actor-cluster-bare/swarm'

const argv = globalThis.Bare ? Bare.argv.slice(2) : process.argv.slice(2)
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(argv[i + 1])
}
const RUNS = opt('runs', 3)
const MS = opt('ms', 2000)
const SIZE = opt('size', 64)
const BATCH_BYTES = 256 * 1024
const runtime = globalThis.Bare ? 'bare' : 'node'

const net = await createTestnet(3, { host: '127.0.0.1' })
const dht = () => new HyperDHT({ bootstrap: net.bootstrap, host: '127.0.0.1' })
const topic = () => {
  const t = b4a.alloc(32)
  for (let i = 0; i < 32; i++) t[i] = Math.floor(Math.random() * 256)
  return t
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Raw: a 4-byte length prefix and the payload, packed into one write per batch; the receiver
// walks the prefixes to count messages, as a frame decoder would.
async function raw() {
  const a = new Hyperswarm({ dht: dht() })
  const b = new Hyperswarm({ dht: dht() })
  let received = 0
  let carry = 0
  b.on('connection', (conn) => {
    conn.on('error', () => {})
    conn.on('data', (chunk) => {
      let at = carry
      while (at + 4 <= chunk.byteLength) {
        const len = chunk[at] | (chunk[at + 1] << 8) | (chunk[at + 2] << 16) | (chunk[at + 3] << 24)
        at += 4 + len
        received++
      }
      carry = at - chunk.byteLength
    })
  })
  await b.listen()
  const conn = await new Promise((resolve) => {
    a.on('connection', (c) => {
      c.on('error', () => {})
      resolve(c)
    })
    a.joinPeer(b.keyPair.publicKey)
  })
  const payload = b4a.alloc(SIZE, 1)
  const frame = 4 + SIZE
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / frame))
  const deadline = Date.now() + MS
  const started = Date.now()
  let sent = 0
  while (Date.now() < deadline) {
    // A fresh batch each write, the messages copied in, as the transport encodes each.
    const batch = b4a.allocUnsafe(perBatch * frame)
    for (let i = 0, at = 0; i < perBatch; i++, at += frame) {
      batch[at] = SIZE & 255
      batch[at + 1] = (SIZE >> 8) & 255
      batch[at + 2] = (SIZE >> 16) & 255
      batch[at + 3] = (SIZE >> 24) & 255
      batch.set(payload, at + 4)
    }
    sent += perBatch
    if (!conn.write(batch)) await new Promise((resolve) => conn.once('drain', resolve))
  }
  while (received < sent && Date.now() < deadline + 10000) await sleep(5)
  const elapsed = Date.now() - started
  await a.destroy()
  await b.destroy()
  return (received / elapsed) * 1000
}

async function transport() {
  const make = async () => {
    const t = new SwarmTransport({ system: 'bench', topic: topic(), bootstrap: net.bootstrap, host: '127.0.0.1', heartbeatIntervalMs: 0 })
    await t.start()
    return t
  }
  const a = await make()
  const b = await make()
  let received = 0
  b.setHandler(() => received++)
  a.setHandler(() => {})
  const msg = { kind: 'envelope', to: '/user/sink', from: null, manifest: 'b', body: b4a.alloc(SIZE, 1) }
  a.send(b.self, msg)
  while (received < 1) await sleep(5)
  received = 0
  const deadline = Date.now() + MS
  const started = Date.now()
  let sent = 0
  while (Date.now() < deadline) {
    // Keep a few batches queued: as much as the connection takes, no more.
    while (a.stats(b.self).queuedBytes < 4 * BATCH_BYTES) {
      for (let i = 0; i < 1024; i++) a.send(b.self, msg)
      sent += 1024
    }
    await new Promise((resolve) => setImmediate ? setImmediate(resolve) : setTimeout(resolve, 0))
  }
  while (received < sent && Date.now() < deadline + 10000) await sleep(5)
  const elapsed = Date.now() - started
  await a.shutdown()
  await b.shutdown()
  return (received / elapsed) * 1000
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
const samples = { raw: [], transport: [] }
for (let r = 0; r < RUNS; r++) {
  samples.raw.push(await raw())
  samples.transport.push(await transport())
}
const rawRate = median(samples.raw)
const tRate = median(samples.transport)
console.log(`# ${runtime}: ${SIZE}-byte messages, ${RUNS} runs of ${MS} ms, medians`)
console.log(`raw secret-stream, 256 KiB batches   ${Math.round(rawRate).toLocaleString('en').padStart(12)} msgs/s`)
console.log(`SwarmTransport envelopes            ${Math.round(tRate).toLocaleString('en').padStart(12)} msgs/s   ratio ${(tRate / rawRate).toFixed(2)}`)
await net.destroy()
