// The Hyperswarm a SwarmTransport runs on: the caller's own, or one made here on a DHT of the
// caller's or made here too (on `host`, `port` and `bootstrap`), with the retry schedule a
// cluster wants and the transport's firewall; and, at the end, taken down as far as it is ours.

import type { KeyPairBytes } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import { within } from './peer.ts'
import { loadHyperDht, loadHyperswarm } from './swarm-modules.ts'
import type { BootstrapNode, SwarmLike, SwarmTransportOptions } from './swarm-options.ts'

// Hyperswarm waits 1 s, 5 s, 15 s and then 10 minutes before it tries a peer again; a cluster
// member whose connection failed (or was open on one side only) is wanted sooner.
const RETRY_BACKOFFS_MS = [250, 1000, 2000, 4000]

export interface OpenedSwarm {
  swarm: SwarmLike
  /** Made here: destroyed (or, on the caller's DHT, closed) at the end. */
  own: boolean
}

/** The swarm to run on; `firewall` says whether a key is kept out. Loads hyperswarm if needed. */
export async function openSwarm(o: SwarmTransportOptions, keyPair: KeyPairBytes, firewall: (key: Uint8Array) => boolean): Promise<OpenedSwarm> {
  if (o.swarm != null) return { swarm: o.swarm, own: false }
  const Hyperswarm = await loadHyperswarm()
  let dht = o.dht ?? null
  if (dht === null) {
    const HyperDHT = await loadHyperDht()
    dht = new HyperDHT({ host: o.host, port: o.port, bootstrap: o.bootstrap?.map(bootstrapNode) })
  }
  const swarm: SwarmLike = new Hyperswarm({ dht, keyPair, backoffs: RETRY_BACKOFFS_MS, firewall })
  return { swarm, own: true }
}

/**
 * Takes down what `openSwarm` made, within `ms`: a swarm on the caller's DHT closes what it
 * opened on it and no more (the DHT outlives the transport); one on its own DHT is destroyed.
 */
export async function closeSwarm(opened: OpenedSwarm, callerDht: boolean, ms: number): Promise<void> {
  if (!opened.own) return
  if (callerDht) {
    const server = (opened.swarm as unknown as { server?: { close(): Promise<unknown> } }).server
    if (server !== undefined) await within(server.close(), 2000)
    return
  }
  await within(opened.swarm.destroy(), Math.max(2000, ms))
}

function bootstrapNode(node: BootstrapNode): { host: string; port: number } | string {
  if (typeof node === 'string' || (node !== null && typeof node === 'object' && typeof node.host === 'string')) return node
  throw ClusterError.BAD_OPTIONS('a bootstrap node is { host, port } or "host:port"')
}
