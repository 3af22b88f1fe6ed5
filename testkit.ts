export { ClusterTestKit, FAST_CLUSTER } from './lib/cluster/testkit.ts'
export type { TestKitOptions } from './lib/cluster/testkit.ts'
export { RogueMember } from './lib/cluster/rogue-member.ts'
export type { RogueMemberOptions, ForgeOptions } from './lib/cluster/rogue-member.ts'
// A seeded random generator, for tests that must do the same thing on every run and runtime.
export { mulberry32 } from './lib/transport/bus.ts'
