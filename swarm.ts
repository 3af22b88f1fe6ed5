// actor-cluster-bare/swarm: the cluster over hyperswarm. Refuses at once (SWARM_UNSUPPORTED) on
// a runtime where hyperswarm cannot run, before anything loads its native parts.

import { assertSwarmRuntime } from './lib/transport/swarm-modules.ts'

assertSwarmRuntime()

export { SwarmTransport, SWARM_DEFAULTS, topicBytes, publicKeyOf } from './lib/transport/swarm-transport.ts'
export type { SwarmTransportOptions } from './lib/transport/swarm-transport.ts'
export type { BootstrapNode, SwarmAllow, SwarmLike, DhtLike, SwarmDiscovery } from './lib/transport/swarm-options.ts'
export type { SwarmConnection } from './lib/transport/swarm-socket.ts'
export type { KeyPairBytes } from './backends/crypto.ts'
