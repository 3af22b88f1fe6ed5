// A cluster node that joins through the seed given as argument and leaves on SIGINT or SIGTERM
// (leaveOnSignals); prints "up" once it is up.
import { ActorSystem, Cluster, leaveOnSignals } from 'actor-cluster-bare'
import { args } from '../helpers/proc.js'

const [seed] = args()
const system = ActorSystem.create('signals', { logLevel: 'warn' })
const cluster = await Cluster.join(system, { port: 0, seeds: [seed], gossipIntervalMs: 100, heartbeatIntervalMs: 100 })
leaveOnSignals(system)
await cluster.ready({ timeoutMs: 20000 })
console.log(JSON.stringify({ up: cluster.self.toString() }))
