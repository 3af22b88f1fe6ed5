// Two cluster nodes on one machine, each a TcpTransport: they find each other by address,
// exchange envelopes and heartbeats over one connection, and print what they see.
// Runs on Bare (`bare example/two-nodes.js`), Node, Bun and Deno.
import b4a from 'b4a'
import { TcpTransport, NodeAddress, createLogger, detectRuntime } from 'actor-cluster-bare'

const log = createLogger(globalThis.Bare?.argv?.includes('--debug') ? 'debug' : 'info')

const alice = new TcpTransport({ self: NodeAddress.parse('actor-cluster://demo@127.0.0.1:0'), log, heartbeatIntervalMs: 200 })
const bob = new TcpTransport({ self: NodeAddress.parse('actor-cluster://demo@127.0.0.1:0'), log, heartbeatIntervalMs: 200 })
await alice.start()
await bob.start()
console.log(`${detectRuntime()}: alice at ${alice.self}, bob at ${bob.self}`)

bob.on('peer-connected', (peer) => console.log(`bob: connected to ${peer}`))
bob.setHandler((from, msg) => {
  if (msg.kind !== 'envelope') return
  console.log(`bob: ${msg.manifest} from ${from.port}: ${b4a.toString(msg.body)}`)
  bob.send(from, { kind: 'envelope', to: msg.from ?? 'user/alice', from: 'user/bob', manifest: 'reply', body: b4a.from('got ' + b4a.toString(msg.body)), correlationId: msg.correlationId })
})

let replies = 0
alice.setHandler((from, msg) => {
  if (msg.kind === 'envelope') console.log(`alice: ${msg.manifest} #${msg.correlationId}: ${b4a.toString(msg.body)}`)
  if (msg.kind === 'envelope' && ++replies === 3) finish()
})

for (const [i, word] of ['hello', 'from', 'alice'].entries()) {
  alice.send(bob.self, { kind: 'envelope', to: 'user/bob', from: 'user/alice', manifest: 'text', body: b4a.from(word), correlationId: i + 1 })
}

async function finish() {
  // Let a heartbeat or two go by so the round-trip time is measured.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const s = alice.stats(bob.self)
  console.log(`alice -> bob: ${s.framesOut} frames, ${s.bytesOut} bytes out, rtt ${s.rttMs?.toFixed(2)} ms, drops ${JSON.stringify(s.drops)}`)
  await alice.shutdown()
  await bob.shutdown()
  console.log('both nodes shut down')
}
