// Two transports and a cluster node that exchange a message and shut down, with shutdown timeouts
// of ten minutes, and an answered ask with one: the process must end by itself as soon as they
// are down (a timer left behind would keep it alive, and so would signal handlers left behind).
import { ActorSystem, Cluster, TcpTransport, NodeAddress, leaveOnSignals } from 'actor-cluster-bare'

const opts = { heartbeatIntervalMs: 0, shutdownTimeoutMs: 600_000, connectTimeoutMs: 600_000, handshakeTimeoutMs: 600_000 }
const a = new TcpTransport({ self: new NodeAddress('exit', '127.0.0.1', 0), ...opts })
const b = new TcpTransport({ self: new NodeAddress('exit', '127.0.0.1', 0), ...opts })
await a.start()
await b.start()
let got = 0
a.setHandler(() => {})
b.setHandler(() => got++)
a.send(b.self, { kind: 'subsystem', channel: 'c', body: new Uint8Array(1) })
while (got === 0) await new Promise((resolve) => setTimeout(resolve, 5))
await a.shutdown()
await b.shutdown()

// An answered ask with a ten-minute timeout, in a system left running: its timeout must not
// hold the process either.
const local = ActorSystem.create('exit-local', { logLevel: 'warn' })
await local.spawn('echo', (m, ctx) => ctx.reply(m)).ask('hi', { timeoutMs: 600_000 })

const system = ActorSystem.create('exit', { logLevel: 'warn' })
await Cluster.join(system, { port: 0 })
// Signal handlers go when the node stops: they must not hold the process either.
leaveOnSignals(system)
console.log(JSON.stringify(await system.spawn('echo', (m, ctx) => ctx.reply(m)).ask('done')))
await system.terminate()
