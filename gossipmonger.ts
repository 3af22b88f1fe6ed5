export { GossipmongerTcpTransport } from './lib/cluster/gossipmonger-transport.ts'
export type { GossipmongerPeer, GossipmongerTransportOptions, GossipmongerEventMap } from './lib/cluster/gossipmonger-transport.ts'
