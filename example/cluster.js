// Three cluster nodes on one machine, each printing membership changes as they happen: they join
// through the first, one leaves gracefully, then one is stopped without a word and the last one
// sees it become unreachable, then down, then removed.
// Runs on Bare (`bare example/cluster.js`), Node, Bun and Deno.
import { Cluster, detectRuntime } from 'actor-cluster-bare'

const started = Date.now()
const timings = { gossipIntervalMs: 200, heartbeatIntervalMs: 200, downAfterMs: 2000, failureDetector: { acceptableHeartbeatPauseMs: 600 } }
const say = (who, what) => console.log(`${String(Date.now() - started).padStart(5)} ms  ${who.padEnd(6)} ${what}`)

async function node(name, port, seed) {
  const cluster = await Cluster.join({ name: 'demo' }, { host: '127.0.0.1', port, seeds: [seed], ...timings })
  const where = (m) => (m.address.equals(cluster.self) ? 'itself' : `:${m.address.port}`)
  cluster.on('member-joined', (m) => say(name, `sees ${where(m)} joining`))
  cluster.on('member-up', (m) => say(name, `sees ${where(m)} up`))
  cluster.on('member-leaving', (m) => say(name, `sees ${where(m)} leaving`))
  cluster.on('member-unreachable', (m) => say(name, `sees ${where(m)} unreachable`))
  cluster.on('member-reachable', (m) => say(name, `sees ${where(m)} reachable again`))
  cluster.on('member-down', (m) => say(name, `sees ${where(m)} down`))
  cluster.on('member-removed', (m) => say(name, `sees ${where(m)} removed`))
  cluster.on('leader-changed', (l) => say(name, `leader is ${l ? ':' + l.port : 'nobody'}`))
  return cluster
}

function until(cond, ms = 15000) {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const check = () => (cond() ? resolve() : Date.now() > deadline ? reject(new Error('the demo timed out')) : setTimeout(check, 20))
    check()
  })
}

const upCount = (c) => c.members().filter((m) => m.status === 'up' && m.reachable).length

console.log(`${detectRuntime()}: three nodes on 127.0.0.1:47101-47103`)
const ada = await node('ada', 47101, '127.0.0.1:47101')
const bob = await node('bob', 47102, '127.0.0.1:47101')
const cyd = await node('cyd', 47103, '127.0.0.1:47101')
await until(() => [ada, bob, cyd].every((c) => upCount(c) === 3))
say('', '--- all three up; cyd leaves gracefully')
await cyd.leave()
await until(() => upCount(ada) === 2 && upCount(bob) === 2)
say('', '--- bob stops without a word')
await bob.shutdown()
await until(() => ada.member(bob.self)?.status === 'removed')
say('', `--- ada is alone: ${ada.members().filter((m) => m.status === 'up').length} up`)
await ada.shutdown()
