// One node of a cross-runtime mesh, run as its own process on any runtime.
//   mesh-peer.js <count> <tlsDir|-> <secret|-> [peer address...]
// Starts a TcpTransport on 127.0.0.1:0 and prints {"address"}. Sends <count> envelopes to every
// peer it is given and to every node it hears from; prints {"done"} once it holds <count>
// envelopes, in order, from each of the others (as many as `expect` in the first envelope says).
import b4a from 'b4a'
import { TcpTransport, NodeAddress, detectRuntime } from 'actor-cluster-bare'
import { args, exit, tlsFrom } from '../helpers/proc.js'

const [countArg, tlsDir, secret, ...known] = args()
const COUNT = Number(countArg)
const EXPECT = 3
const LIFETIME_MS = 90_000
setTimeout(() => {
  console.log(JSON.stringify({ error: 'timed out', received: Object.fromEntries(next) }))
  exit(3)
}, LIFETIME_MS)

const transport = new TcpTransport({
  self: NodeAddress.parse('actor-cluster://mesh@127.0.0.1:0'),
  tls: await tlsFrom(tlsDir),
  secret: secret === '-' ? null : secret,
  heartbeatIntervalMs: 0
})
const next = new Map()
const sentTo = new Set()
let broken = null

transport.setHandler((from, msg) => {
  if (msg.kind !== 'envelope') return
  const key = from.toString()
  const i = Number(msg.manifest)
  const want = next.get(key) ?? 0
  if (i !== want || b4a.toString(msg.body) !== `${key}#${i}`) broken ??= `${key}: got ${i}, wanted ${want}`
  next.set(key, want + 1)
  sendAll(from)
  if (next.size === EXPECT && [...next.values()].every((n) => n === COUNT)) {
    console.log(JSON.stringify({ done: true, runtime: detectRuntime(), from: [...next.keys()].sort(), broken }))
  }
})
await transport.start()
console.log(JSON.stringify({ address: transport.self.toString(), runtime: detectRuntime() }))
for (const a of known) sendAll(NodeAddress.parse(a))

async function sendAll(to) {
  const key = to.toString()
  if (sentTo.has(key)) return
  sentTo.add(key)
  // In batches, so the per-peer queue bound is never what limits the test.
  for (let i = 0; i < COUNT; i++) {
    transport.send(to, {
      kind: 'envelope',
      to: 'user/sink',
      from: null,
      manifest: String(i),
      body: b4a.from(`${transport.self.toString()}#${i}`),
      correlationId: null
    })
    if (i % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}
