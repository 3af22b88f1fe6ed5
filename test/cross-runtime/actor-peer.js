// One actor system in its own process, on any runtime, for the cross-runtime actor test.
//   actor-peer.js <seed host:port | -> <members to wait for>
// Hosts `echo` (replies with what it got and its runtime), `inbox` (acknowledges each message to
// the ref inside it) and `mute` (never answers). Once the cluster has all its members, it checks
// every other member: ask to echo with bigint, Map, Set, Date and bytes inside; 100 tells carrying
// a ref to its own `acks` actor; ASK_TIMEOUT from mute and NO_RECIPIENT from a missing actor.
// Prints {"address","runtime"}, then one {"checked", ...} line per member, then {"done": true}.
import { ActorSystem, Cluster, NodeAddress, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'

const [seed, expected] = args()
const runtime = detectRuntime()
setTimeout(() => exit(3), 90_000)

const system = ActorSystem.create('mixed-actors', { logLevel: 'warn' })
system.spawn('echo', (msg, ctx) => ctx.reply({ runtime, got: msg }))
system.spawn('inbox', (msg) => msg.replyTo.tell({ ack: msg.i, runtime }))
system.spawn('mute', () => {})
const acks = new Map()
system.spawn('acks', (msg) => acks.set(msg.runtime, (acks.get(msg.runtime) ?? 0) + 1))

const cluster = await Cluster.join(system, {
  port: 0,
  seeds: seed === '-' ? [] : [NodeAddress.from(seed, 'mixed-actors')],
  gossipIntervalMs: 100,
  heartbeatIntervalMs: 200
})
console.log(JSON.stringify({ address: cluster.self.toString(), runtime }))

const others = () => cluster.members().filter((m) => m.status === 'up' && !m.address.equals(cluster.self))
while (others().length < Number(expected) - 1) await sleep(50)

const sample = { big: 1n << 70n, when: new Date(86_400_000), tags: new Set(['a', 'b']), table: new Map([[1, 'one']]), bytes: new Uint8Array([1, 2, 3]), text: 'héllo' }
for (const m of others()) {
  const at = (name) => system.ref(`${m.address.toString()}/user/${name}`)
  const result = { checked: m.address.toString() }
  try {
    const started = Date.now()
    const reply = await at('echo').ask(sample, { timeoutMs: 10_000 })
    result.askMs = Date.now() - started
    result.runtime = reply.runtime
    const got = reply.got
    result.echoed =
      got.big === sample.big &&
      got.when.getTime() === sample.when.getTime() &&
      got.tags instanceof Set && got.tags.has('b') &&
      got.table instanceof Map && got.table.get(1) === 'one' &&
      got.bytes instanceof Uint8Array && got.bytes.length === 3 && got.bytes[2] === 3 &&
      got.text === sample.text
    const replyTo = system.ref('/user/acks')
    for (let i = 0; i < 100; i++) at('inbox').tell({ i, replyTo })
    const deadline = Date.now() + 10_000
    while ((acks.get(reply.runtime) ?? 0) < 100 && Date.now() < deadline) await sleep(20)
    result.acks = acks.get(reply.runtime) ?? 0
    result.timeout = await at('mute').ask('hello?', { timeoutMs: 200 }).then(() => 'answered', (e) => e.code)
    result.missing = await at('nobody').ask('hello?', { timeoutMs: 10_000 }).then(() => 'answered', (e) => e.code)
  } catch (err) {
    result.error = String(err)
  }
  console.log(JSON.stringify(result))
}
console.log(JSON.stringify({ done: true }))

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
