// The live view: renderStatus draws a three-node cluster as seen from a client-only node, at a
// fixed width, and `actor-cluster-bare status --once` prints the same from its own process.
import test from 'brittle'
import { ActorSystem, Cluster, renderStatus, detectRuntime } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './helpers/transport.js'

async function three(t) {
  const nodes = []
  for (let i = 0; i < 3; i++) {
    const system = ActorSystem.create('view', { logLevel: 'silent' })
    const cluster = await Cluster.join(system, { ...FAST_CLUSTER, port: 0, seeds: i === 0 ? [] : [nodes[0].self], roles: [i === 0 ? 'seed' : 'worker'] })
    t.teardown(() => system.terminate({ leave: false }))
    nodes.push(cluster)
  }
  await Promise.all(nodes.map((c) => c.ready({ timeoutMs: 10000 })))
  await until(() => nodes.every((c) => c.members().filter((m) => m.status === 'up').length === 3), 10000, 'three up')
  return nodes
}

const hostPort = (c) => `127.0.0.1:${c.self.port}`

test('a three-node cluster drawn at 80 columns from a client-only node', async (t) => {
  const nodes = await three(t)
  const system = ActorSystem.create('view', { logLevel: 'silent' })
  const client = await Cluster.join(system, { ...FAST_CLUSTER, port: 0, clientOnly: true, seeds: [nodes[0].self] })
  t.teardown(() => system.terminate())
  await client.ready({ timeoutMs: 5000 })
  // The client pings every member, so each row gets a round-trip time.
  await until(() => client.status().members.length === 3 && client.status().members.every((m) => m.peer?.rttMs != null), 5000, 'rtt to all')
  // Named in address order, so ada is the leader (the lowest address leads).
  nodes.sort((a, b) => a.self.compare(b.self))
  const names = new Map(nodes.map((c, i) => [c.self.toString(), ['ada', 'bob', 'cyd'][i]]))
  const lines = renderStatus(client.status(), { width: 80, name: (m) => names.get(m.address) ?? null })
  t.comment('\n' + lines.join('\n'))
  t.ok(lines.every((l) => l.length <= 80), 'every line fits 80 columns')
  t.is(lines[0], 'actor-cluster-bare status')
  t.is(lines[1], `this node 127.0.0.1:${client.self.port} (client)`)
  t.is(lines[2], `leader ada ${hostPort(nodes[0])}  ·  3 members, 3 up`)
  t.ok(/^ {2}MEMBER +STATUS +REACH +ROLES +RTT +IN +OUT/.test(lines[4]), 'column headings')
  const rows = lines.slice(5)
  t.is(rows.length, 3, 'one row per member')
  for (const [i, c] of nodes.entries()) {
    const row = rows[i]
    const name = ['ada', 'bob', 'cyd'][i]
    const re = new RegExp(`^${i === 0 ? '\\* ' : '  '}${name} ${hostPort(c).replace(/\./g, '\\.')} +up +ok +(seed|worker) +[0-9.]+ ms +\\d+(\\.\\d)? (B|KiB) +\\d+(\\.\\d)? (B|KiB)`)
    t.ok(re.test(row), `row ${i}: ${row}`)
  }
  const narrow = renderStatus(client.status(), { width: 50 })
  t.ok(narrow.every((l) => l.length <= 50), 'a narrow terminal gets fewer columns, never longer lines')
  t.ok(narrow.slice(5).every((l) => / up /.test(l)), 'still with the status')
})

test('actor-cluster-bare status --once draws the cluster from its own process', { skip: detectRuntime() !== 'node' }, async (t) => {
  const nodes = await three(t)
  const { spawn } = await import('node:child_process')
  const path = await import('node:path')
  const bin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'actor-cluster-bare.js')
  const child = spawn(process.execPath, [bin, 'status', '--seed', hostPort(nodes[0]), '--cluster', 'view', '--once', '--width', '80'])
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.is(code, 0)
  const lines = out.trimEnd().split('\n')
  t.is(lines[2], `leader 127.0.0.1:${nodes[0].leader.port}  ·  3 members, 3 up`)
  t.is(lines.filter((l) => / up +ok /.test(l)).length, 3, out)
  t.ok(lines[5].startsWith('* '), 'the leader marked')
  // Gone from the cluster once it is done: it was a client, never a member.
  t.ok(nodes.every((c) => c.members().length === 3))
})

test('actor-cluster-bare status with the wrong cluster name fails with READY_TIMEOUT naming the seed', { skip: detectRuntime() !== 'node' }, async (t) => {
  const nodes = await three(t)
  const { spawn } = await import('node:child_process')
  const path = await import('node:path')
  const bin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'actor-cluster-bare.js')
  const child = spawn(process.execPath, [bin, 'status', '--seed', hostPort(nodes[0]), '--cluster', 'other', '--once', '--timeout', '1500'])
  t.teardown(() => child.kill('SIGKILL'))
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.is(code, 1)
  t.ok(err.includes('READY_TIMEOUT') && err.includes(hostPort(nodes[0])) && /cluster/.test(err), err)
})

test('actor-cluster-bare status without --cluster learns the name from the seed', { skip: detectRuntime() !== 'node' }, async (t) => {
  const nodes = await three(t)
  const { spawn } = await import('node:child_process')
  const path = await import('node:path')
  const bin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'actor-cluster-bare.js')
  const child = spawn(process.execPath, [bin, 'status', '--seed', hostPort(nodes[0]), '--once', '--width', '80'])
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.is(code, 0)
  const lines = out.trimEnd().split('\n')
  t.is(lines[0], 'actor-cluster-bare status: cluster "view"', 'the name the seed gave')
  t.is(lines.filter((l) => / up +ok /.test(l)).length, 3, out)
})
