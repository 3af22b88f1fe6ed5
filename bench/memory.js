// Memory in one process: per idle peer connection (a TcpTransport's connections against raw
// backend socket pairs, both ends in this process), and per 1,000 64-byte envelopes queued.
//   <runtime> bench/memory.js
import { getTcpBackend, TcpTransport, NodeAddress, encodeFrame, WIRE_VERSION } from 'actor-cluster-bare'
import { exit } from '../test/helpers/proc.js'

const CONNECTIONS = 1000
const QUEUED = 100_000
const HOST = '127.0.0.1'
const bareOs = typeof globalThis.Bare !== 'undefined' ? (await import('bare-os')).default : null

function rss() {
  if (bareOs !== null) return bareOs.memoryUsage().rss
  return globalThis.process.memoryUsage().rss
}

function gc() {
  if (typeof globalThis.gc === 'function') globalThis.gc()
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const backend = getTcpBackend()

async function settle() {
  gc()
  await sleep(200)
  gc()
  return rss()
}

// Each side runs once with a few connections first, so the code it compiles and the pools it
// sets up on first use are not counted per connection.
const WARM_UP = 20

// Raw: socket pairs through the backend, idle.
const server = await backend.listen({ host: HOST, port: 0, onconnection: (s) => { s.ondata = () => {} } })
async function rawPairs(n) {
  const raws = []
  for (let i = 0; i < n; i++) raws.push(await backend.connect({ host: HOST, port: server.port }))
  return raws
}
;(await rawPairs(WARM_UP)).forEach((s) => s.destroy())
let base = await settle()
const raws = await rawPairs(CONNECTIONS)
const rawPerConnection = ((await settle()) - base) / CONNECTIONS
raws.forEach((s) => s.destroy())
await server.close()

// Transport: a hub and raw clients that complete the handshake by hand, idle. The difference
// from the raw pairs above is what the transport keeps per peer.
const hub = new TcpTransport({ self: NodeAddress.parse('actor-cluster://m@127.0.0.1:0'), heartbeatIntervalMs: 0 })
await hub.start()
hub.setHandler(() => {})
let nextPort = 10000
async function hubClients(n) {
  const clients = []
  const before = hub.peers().length
  for (let i = 0; i < n; i++) {
    const c = await backend.connect({ host: HOST, port: hub.self.port })
    c.ondata = () => {}
    c.write(encodeFrame(hello(`actor-cluster://m@127.0.0.1:${nextPort++}`)))
    clients.push(c)
  }
  for (let i = 0; i < 500 && hub.peers().length < before + n; i++) await sleep(10)
  return clients
}
const warm = await hubClients(WARM_UP)
base = await settle()
const clients = await hubClients(CONNECTIONS)
const transportPerConnection = ((await settle()) - base) / CONNECTIONS
clients.concat(warm).forEach((c) => c.destroy())

// Queued: envelopes for a peer whose listener never answers the handshake, so all of them wait.
base = await settle()
const silent = await backend.listen({ host: HOST, port: 0, onconnection: (s) => { s.ondata = () => {} } })
const to = NodeAddress.parse(`actor-cluster://m@127.0.0.1:${silent.port}`)
const body = new Uint8Array(64)
for (let i = 0; i < QUEUED; i++) hub.send(to, { kind: 'envelope', to: 'user/sink', from: null, manifest: 'q', body, correlationId: null })
const queuedFrames = hub.stats(to)?.queuedFrames ?? 0
const perThousandQueued = (((await settle()) - base) / Math.max(1, queuedFrames)) * 1000
await hub.shutdown()
await silent.close()

function hello(from) {
  return { kind: 'hello', minVersion: WIRE_VERSION, maxVersion: WIRE_VERSION, cluster: 'm', from, incarnation: 1, maxFrameBytes: 1 << 24, features: 0, nonce: new Uint8Array(32), proof: null }
}

console.log(JSON.stringify({
  connections: CONNECTIONS,
  rawPerConnectionKiB: rawPerConnection / 1024,
  transportPerConnectionKiB: transportPerConnection / 1024,
  ratio: transportPerConnection / rawPerConnection,
  queuedFrames,
  per1000QueuedKiB: perThousandQueued / 1024
}))
exit(0)
