// A cluster node that sets leaveOnSignals right after joining, before it is up, as a script that
// wants Ctrl-C to work at any moment would; prints "joined" once Cluster.join has resolved and
// "up" once ready() has. A signal in between must end the process quietly, with 0.
import { ActorSystem, Cluster, leaveOnSignals } from 'actor-cluster-bare'
import { args } from '../helpers/proc.js'

const [seed] = args()
const system = ActorSystem.create('signals', { logLevel: 'warn' })
const cluster = await Cluster.join(system, { port: 0, seeds: [seed], gossipIntervalMs: 100, heartbeatIntervalMs: 100 })
leaveOnSignals(system)
console.log(JSON.stringify({ joined: cluster.self.toString() }))
await cluster.ready({ timeoutMs: 20000 })
console.log(JSON.stringify({ up: cluster.self.toString() }))
