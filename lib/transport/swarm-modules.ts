// Loads hyperswarm and hyperdht, the optional peer dependencies of the swarm entry, only when a
// SwarmTransport starts; on a runtime where their native parts cannot run, refuses at once.

import { detectRuntime } from '../../backends/runtime.ts'
import { ClusterError } from '../errors.ts'
import type { DhtLike, SwarmLike } from './swarm-options.ts'

export type HyperswarmClass = new (opts: Record<string, unknown>) => SwarmLike
export type HyperDhtClass = new (opts: Record<string, unknown>) => DhtLike

// Not literals, so the compiler does not look for their types and a bundler leaves them alone.
const HYPERSWARM: string = 'hyperswarm'
const HYPERDHT: string = 'hyperdht'

/**
 * Throws SWARM_UNSUPPORTED on Bun and Deno: udx-native, under hyperswarm, needs libuv calls
 * neither provides (Bun panics, which no catch can stop, and Deno reports an undefined symbol).
 */
export function assertSwarmRuntime(): void {
  const runtime = detectRuntime()
  if (runtime === 'bun' || runtime === 'deno') {
    throw ClusterError.SWARM_UNSUPPORTED(
      `hyperswarm cannot run on ${runtime === 'bun' ? 'Bun' : 'Deno'}: its UDP layer (udx-native) needs libuv functions this runtime lacks; use Bare or Node for a swarm node, TcpTransport here`
    )
  }
}

export async function loadHyperswarm(): Promise<HyperswarmClass> {
  return (await load(HYPERSWARM)) as HyperswarmClass
}

export async function loadHyperDht(): Promise<HyperDhtClass> {
  return (await load(HYPERDHT)) as HyperDhtClass
}

// One import per module, shared: Bare's loader fails a module's dependencies when two dynamic
// imports of it are under way at once (several transports starting together).
const loading = new Map<string, Promise<unknown>>()

function load(name: string): Promise<unknown> {
  assertSwarmRuntime()
  let p = loading.get(name)
  if (p === undefined) {
    p = importModule(name)
    loading.set(name, p)
    p.catch(() => loading.delete(name))
  }
  return p
}

async function importModule(name: string): Promise<unknown> {
  try {
    const mod = (await import(name)) as { default?: unknown }
    return mod.default ?? mod
  } catch (err) {
    throw ClusterError.SWARM_UNSUPPORTED(`cannot load ${name} (an optional peer dependency of actor-cluster-bare/swarm: npm install hyperswarm hyperdht)`, err)
  }
}
