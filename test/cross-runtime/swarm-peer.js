// One actor system on a SwarmTransport in its own process, on Bare or Node, for the swarm
// cross-runtime tests.
//   swarm-peer.js <json: { topic, bootstrap, keyPair?, expected, mode, deadAfterMs }>
// Hosts `echo`. Prints {"address","runtime","incarnation","pid"}; then, once `expected` members
// are up, asks every other member's echo and prints {"checked","runtime","ok"} for each, then
// {"done": true}. Member events about others are printed as {"event","address","incarnation","at"}.
// mode 'leave': once done and asked by every other member (30 s at most) it leaves and prints
// {"left": true}, and nothing more ends the process: it must exit by itself. mode 'stay': it runs
// until killed.
import b4a from 'b4a'
import { ActorSystem, Cluster, detectRuntime } from 'actor-cluster-bare'
import { SwarmTransport } from 'actor-cluster-bare/swarm'
import { args, exit } from '../helpers/proc.js'
import { guardLoopback, offLoopback } from '../helpers/swarm.js'

const config = JSON.parse(args()[0])
const runtime = detectRuntime()
const watchdog = setTimeout(() => exit(3), 90_000)
await guardLoopback()

const system = ActorSystem.create('swarm-app', { logLevel: config.logLevel ?? 'warn' })
// Who asked: a node leaves only once every other member has had its answer.
const askedBy = new Set()
system.spawn('echo', (msg, ctx) => {
  if (typeof msg?.from === 'string') askedBy.add(msg.from)
  ctx.reply({ runtime, got: msg })
})
const keyPair = config.keyPair ? { publicKey: b4a.from(config.keyPair.publicKey, 'hex'), secretKey: b4a.from(config.keyPair.secretKey, 'hex') } : undefined
const transport = new SwarmTransport({
  topic: b4a.from(config.topic, 'hex'),
  bootstrap: config.bootstrap,
  host: '127.0.0.1',
  keyPair,
  keepAliveMs: 250,
  deadAfterMs: config.deadAfterMs ?? 5000,
  log: system.log
})
const cluster = await Cluster.join(system, {
  transport,
  gossipIntervalMs: 100,
  heartbeatIntervalMs: 200,
  // 'fast' failure detection for the kill test; otherwise the defaults, which give a pair of
  // nodes whose first direct connection was half-open the time to get another.
  ...(config.fast ? { downAfterMs: 1500, failureDetector: { acceptableHeartbeatPauseMs: 1000 } } : {})
})
const started = Date.now()
console.log(JSON.stringify({ address: cluster.self.toString(), runtime, incarnation: cluster.incarnation, pid: globalThis.Bare ? globalThis.Bare.pid : process.pid }))
for (const event of ['member-up', 'member-unreachable', 'member-removed']) {
  cluster.on(event, (m) => {
    if (!m.address.equals(cluster.self)) console.log(JSON.stringify({ event, address: m.address.toString(), incarnation: m.incarnation, at: Date.now() }))
  })
}

const others = () => cluster.members().filter((m) => m.status === 'up' && !m.address.equals(cluster.self))
while (others().length < config.expected - 1) await sleep(20)
console.log(JSON.stringify({ up: Date.now() - started }))
for (const m of others()) {
  const result = { checked: m.address.toString() }
  try {
    const reply = await system.ref(`${m.address.toString()}/user/echo`).ask({ n: 7, bytes: new Uint8Array([1, 2]), from: cluster.self.toString() }, { timeoutMs: 15_000 })
    result.runtime = reply.runtime
    result.ok = reply.got.n === 7 && reply.got.bytes[1] === 2
  } catch (err) {
    result.error = String(err)
  }
  console.log(JSON.stringify(result))
}
console.log(JSON.stringify({ done: true, offLoopback }))

if (config.mode === 'leave') {
  // The others may have formed later than this node: wait (bounded) until each has asked.
  const until = Date.now() + 30_000
  while (askedBy.size < config.expected - 1 && Date.now() < until) await sleep(50)
  await sleep(500)
  clearTimeout(watchdog)
  await cluster.leave()
  await system.terminate?.()
  console.log(JSON.stringify({ left: true, offLoopback }))
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
