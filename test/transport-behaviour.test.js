// The shared transport behaviour on TcpTransport over loopback (in-memory-transport.test.js runs
// it on InMemoryTransport).
import { TcpTransport } from 'actor-cluster-bare'
import { behaviour } from './transport-behaviour.js'

const MAX_FRAME_BYTES = 4 * 1024 * 1024

behaviour('tcp', () => ({
  maxFrameBytes: MAX_FRAME_BYTES,
  async create(self) {
    const node = new TcpTransport({
      self,
      heartbeatIntervalMs: 0,
      backoffBaseMs: 20,
      maxDialAttempts: 3,
      maxFrameBytes: MAX_FRAME_BYTES
    })
    await node.start()
    return node
  }
}))
