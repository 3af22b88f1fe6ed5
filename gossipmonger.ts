export { GossipmongerTcpTransport } from './lib/compat/gossipmonger-transport.ts'
export type { GossipmongerPeer, GossipmongerTransportOptions, GossipmongerEventMap } from './lib/compat/gossipmonger-transport.ts'
