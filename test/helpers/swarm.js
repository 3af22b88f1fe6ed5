// Helpers for swarm tests: a local DHT testnet on loopback, SwarmTransports on it, and a guard
// that keeps every packet on this machine. Hyperswarm runs on Bare and Node only: on Bun and
// Deno `swarmSkip` says why and the swarm tests are skipped.
import b4a from 'b4a'

const g = globalThis
export const runtime = g.Bare ? 'bare' : g.Bun ? 'bun' : g.Deno ? 'deno' : 'node'
export const unsupportedRuntime = runtime === 'bun' || runtime === 'deno'

// hyperswarm and hyperdht are dev dependencies (`npm ci` installs them); a node_modules made
// before they were added lacks them, and then the swarm tests say so and are skipped.
async function missing() {
  try {
    await import('hyperswarm')
    await import('hyperdht')
    return null
  } catch (err) {
    return `hyperswarm or hyperdht is not installed (run npm ci): swarm tests skipped (${err.message.split('\n')[0]})`
  }
}

export const swarmSkip = unsupportedRuntime
  ? `hyperswarm does not run on ${runtime} (udx-native needs libuv calls it lacks); swarm tests skipped`
  : await missing()

// Destinations outside 127.0.0.0/8 that something tried to reach: every swarm test checks it
// is empty. The packet itself is not sent.
export const offLoopback = []

let guarded = false

// Wraps udx-native's sends and stream connects (the only way hyperdht reaches the network).
export async function guardLoopback() {
  if (guarded) return
  guarded = true
  const { default: Socket } = await import('udx-native/lib/socket.js')
  const { default: Stream } = await import('udx-native/lib/stream.js')
  const ok = (host) => host === undefined || host === null || host === '' || /^127\./.test(host)
  for (const name of ['send', 'trySend']) {
    const original = Socket.prototype[name]
    Socket.prototype[name] = function (buffer, port, host, ttl) {
      if (!ok(host)) {
        offLoopback.push(`${name} to ${host}:${port}`)
        return name === 'send' ? Promise.resolve(false) : undefined
      }
      return original.call(this, buffer, port, host, ttl)
    }
  }
  const connect = Stream.prototype.connect
  Stream.prototype.connect = function (socket, remoteId, port, host, opts) {
    const h = typeof host === 'object' ? undefined : host
    if (!ok(h)) {
      offLoopback.push(`stream to ${h}:${port}`)
      return this.destroy(new Error('off loopback'))
    }
    return connect.call(this, socket, remoteId, port, host, opts)
  }
}

// A DHT testnet on loopback, destroyed after the test's other teardowns.
export async function testnet(t, size = 3) {
  await guardLoopback()
  const { default: createTestnet } = await import('hyperdht/testnet.js')
  const net = await createTestnet(size, { host: '127.0.0.1' })
  t.teardown(() => net.destroy(), { order: Infinity })
  return net
}

// The options every test transport gets: on the testnet, bound to loopback.
export function local(net, opts = {}) {
  return { bootstrap: net.bootstrap, host: '127.0.0.1', ...opts }
}

export function randomTopic() {
  const topic = b4a.alloc(32)
  for (let i = 0; i < 32; i++) topic[i] = Math.floor(Math.random() * 256)
  return topic
}

// A new SwarmTransport on the testnet, started, shut down at teardown.
export async function swarmNode(t, net, opts = {}) {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')
  const transport = new SwarmTransport(local(net, { system: 'test', topic: randomTopic(), heartbeatIntervalMs: 0, ...opts }))
  await transport.start()
  transport.received = []
  transport.setHandler((from, msg) => transport.received.push({ from, msg }))
  t.teardown(() => transport.shutdown())
  return transport
}
