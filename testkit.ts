export { ClusterTestKit, FAST_CLUSTER } from './lib/cluster/testkit.ts'
export type { TestKitOptions } from './lib/cluster/testkit.ts'
export { RogueMember } from './lib/cluster/rogue-member.ts'
export type { RogueMemberOptions, ForgeOptions } from './lib/cluster/rogue-member.ts'
// A seeded random generator, for tests that must do the same thing on every run and runtime.
export { mulberry32 } from './lib/transport/bus.ts'
// The transport's parts, for tests that run each alone: the handshake as a state machine, and a
// peer with its connection over any duplex that fills the socket contract.
export { Handshake, HandshakeState, DUPLICATE_REASON, AUTH_REASON } from './lib/transport/handshake.ts'
export type { HandshakeStep, LocalIdentity } from './lib/transport/handshake.ts'
export { Connection, ConnectionState } from './lib/transport/connection.ts'
export type { ConnectionOwner } from './lib/transport/connection.ts'
export { Peer } from './lib/transport/peer.ts'
export { BatchSlabs, FIRST_SLAB_BYTES, MAX_SLAB_BYTES } from './lib/transport/batch-slabs.ts'
export type { PeerOptions } from './lib/transport/peer.ts'
// Ed25519 as the cluster uses it, for benchmarks and tests of signing cost.
export { generateSigningKeyPair, verifySignature } from './backends/crypto.ts'
