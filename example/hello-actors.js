// Two nodes, each on the runtime you like, each hosting a `greeter` actor. Once they see each
// other in the cluster, each asks the other's greeter for a greeting, prints it, and leaves.
//
//   node example/hello-actors.js 4001          the first node, on port 4001
//   bare example/hello-actors.js 4002 4001     the second, on Bare, joining through port 4001
import { ActorSystem, Cluster, detectRuntime, leaveOnSignals } from 'actor-cluster-bare'

const [port = '0', seedPort = null] = argv()
const runtime = detectRuntime()
// At info: a seed that cannot be reached is said at once, with the reason.
const system = ActorSystem.create('hello', { logLevel: 'info' })

let greeted = false
system.spawn('greeter', (name, ctx) => {
  greeted = true
  ctx.reply(`hello ${name}, from ${runtime}`)
})

// Without a seed this node starts the cluster; with one it joins through it.
const seeds = seedPort === null ? [] : [`127.0.0.1:${seedPort}`]
const cluster = await Cluster.join(system, { host: '127.0.0.1', port: Number(port), seeds })

// Resolves once this node is up in the cluster (READY_TIMEOUT names the seeds if it cannot be).
await cluster.ready({ timeoutMs: 30000 })
console.log(`${runtime} node up at ${cluster.self}`)
// Ctrl-C leaves the cluster (the other node sees this one leaving, not crashing), then exits.
// It could as well be set before ready(): a Ctrl-C while joining exits with 0 just the same.
leaveOnSignals(system)

// Greet every other member: those up already, and each one that comes up from now on.
cluster.on('member-up', greet)
for (const member of cluster.members()) if (member.status === 'up') greet(member)

async function greet(member) {
  if (member.address.equals(cluster.self)) return
  const greeter = system.ref(`${member.address}/user/greeter`)
  try {
    console.log(await greeter.ask(runtime, { timeoutMs: 5000 }))
  } catch (err) {
    // Nothing else sees this listener's promise: an uncaught rejection would end the process.
    console.error(`no greeting from ${member.address}: ${err.code}`, err.stack)
  }
  while (!greeted) await new Promise((resolve) => setTimeout(resolve, 50))
  await system.terminate()
}

function argv() {
  const g = globalThis
  if (g.Bare) return g.Bare.argv.slice(2)
  if (g.Deno) return g.Deno.args.slice()
  return g.process.argv.slice(2)
}
