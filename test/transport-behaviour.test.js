// The shared transport behaviour, on TcpTransport (loopback) and InMemoryTransport (one bus).
import { TcpTransport, InMemoryTransport, NodeAddress } from 'actor-cluster-bare'
import { behaviour } from './transport-behaviour.js'

behaviour('tcp', () => ({
  async create() {
    const node = new TcpTransport({
      self: NodeAddress.parse('actor-cluster://test@127.0.0.1:0'),
      heartbeatIntervalMs: 0,
      backoffBaseMs: 20,
      maxDialAttempts: 3,
      maxFrameBytes: 4 * 1024 * 1024
    })
    await node.start()
    return node
  }
}))

behaviour('in-memory', (t) => {
  const bus = InMemoryTransport.newBus({ seed: 7 })
  t.teardown(() => bus.close())
  let host = 1
  return {
    async create() {
      const node = new InMemoryTransport({ self: `actor-cluster://test@10.0.0.${host++}:2552`, bus, maxFrameBytes: 4 * 1024 * 1024 })
      await node.start()
      return node
    }
  }
})
