export { ClusterTestKit, FAST_CLUSTER } from './lib/cluster/testkit.ts'
export type { TestKitOptions } from './lib/cluster/testkit.ts'
