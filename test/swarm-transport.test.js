// SwarmTransport: the shared transport behaviour over hyperswarm on a local testnet (each node on
// a topic of its own, so, as over TCP, a connection comes only when there is something to send),
// then what is the swarm's own: identity by key, the allow-list, large writes, replacement.
import test from 'brittle'
import { NodeAddress } from 'actor-cluster-bare'
import { behaviour } from './transport-behaviour.js'
import { testnet, local, randomTopic, swarmSkip, offLoopback } from './helpers/swarm.js'

const MAX_FRAME_BYTES = 4 * 1024 * 1024

if (swarmSkip !== null) {
  test('swarm transport: the swarm entry refuses at once, with a code that says why', async (t) => {
    t.comment(swarmSkip)
    await t.exception(import('actor-cluster-bare/swarm'), /SWARM_UNSUPPORTED: hyperswarm cannot run on/)
    const { ClusterError } = await import('actor-cluster-bare')
    try {
      await import('actor-cluster-bare/swarm')
    } catch (err) {
      t.ok(err instanceof ClusterError && err.code === 'SWARM_UNSUPPORTED', 'a ClusterError with its code')
    }
  })
} else {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')

  behaviour('swarm', (t) => {
    let net = null
    return {
      maxFrameBytes: MAX_FRAME_BYTES,
      unreachable: () => NodeAddress.ofKey('behaviour', randomTopic()),
      async create() {
        if (net === null) net = await testnet(t)
        const node = new SwarmTransport(
          local(net, {
            system: 'behaviour',
            topic: randomTopic(),
            heartbeatIntervalMs: 0,
            backoffBaseMs: 20,
            maxDialAttempts: 3,
            maxFrameBytes: MAX_FRAME_BYTES
          })
        )
        await node.start()
        return node
      }
    }
  })

  test('swarm: nothing left loopback', (t) => {
    t.alike(offLoopback, [], 'every destination was 127.0.0.0/8')
  })
}
