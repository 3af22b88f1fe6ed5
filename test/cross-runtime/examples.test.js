// The examples the README points at run to the end on every runtime.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

// The chat demo paces itself for a person; here ten times faster.
const EXAMPLES = [
  ['p2p-chat.js', /sees ada up[\s\S]*--- all four up; \w+ leads[\s\S]*PEER +WROTE[\s\S]*everyone has left/, ['--pace', '0.1']],
  ['cluster.js', /ada is alone: 1 up/, []],
  ['two-nodes.js', /both nodes shut down/, []],
  ['sharded-chat.js', /every room answered; \d+ posts sent, 0 dropped/, []]
]

for (const [file, ending, args] of EXAMPLES) {
  test(`example/${file} runs on Bare, Node, Bun and Deno`, { timeout: 120000 }, async (t) => {
    // One runtime at a time: the cluster example uses fixed ports.
    for (const runtime of RUNTIMES) {
      const proc = start(t, runtime, path.join(ROOT, 'example', file), args)
      let out = ''
      proc.child.stdout.on('data', (d) => {
        out += d
      })
      const exit = await proc.exited
      t.ok(exit.code === 0 && ending.test(out), `${runtime}: ran to the end${exit.code === 0 ? '' : ' (exit ' + exit.code + ': ' + proc.stderr.slice(0, 200) + ')'}`)
    }
  })
}

test('a process ends by itself once its transports and actor system are shut down', { timeout: 120000 }, async (t) => {
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, path.join(ROOT, 'test', 'cross-runtime', 'exit-peer.js'))
    t.is(await proc.json(30000), 'done', `${runtime}: the message went through`)
    const exit = await proc.exited // the test's timeout fails it should the process hang
    t.is(exit.code, 0, `${runtime}: ended by itself`)
  }
})

test('example/hello-actors.js: two nodes on two runtimes greet each other', { timeout: 120000 }, async (t) => {
  for (const [first, second] of [['node', 'bare'], ['bun', 'deno'], ['bare', 'bun'], ['deno', 'node']]) {
    const script = path.join(ROOT, 'example', 'hello-actors.js')
    const a = start(t, first, script, ['0'])
    let outA = ''
    a.child.stdout.on('data', (d) => {
      outA += d
    })
    const deadline = Date.now() + 20000
    while (!/up at .*:(\d+)/.test(outA) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    const port = /up at .*:(\d+)/.exec(outA)[1]
    const b = start(t, second, script, ['0', port])
    let outB = ''
    b.child.stdout.on('data', (d) => {
      outB += d
    })
    const [ea, eb] = await Promise.all([a.exited, b.exited])
    t.ok(ea.code === 0 && outA.includes(`hello ${first}, from ${second}`), `${first} was greeted by ${second}`)
    t.ok(eb.code === 0 && outB.includes(`hello ${second}, from ${first}`), `${second} was greeted by ${first}`)
  }
})

test('example/hello-actors.js survives a peer without a greeter: the failed ask is caught and names its line', { timeout: 120000 }, async (t) => {
  const { ActorSystem, Cluster } = await import('actor-cluster-bare')
  for (const runtime of ['node', 'bare']) {
    // A member with no greeter actor: the example's ask to it fails with NO_RECIPIENT.
    const system = ActorSystem.create('hello', { logLevel: 'silent' })
    const seed = await Cluster.join(system, { port: 0 })
    t.teardown(() => system.terminate({ leave: false }))
    await seed.ready({ timeoutMs: 10000 })
    const proc = start(t, runtime, path.join(ROOT, 'example', 'hello-actors.js'), ['0', String(seed.self.port)])
    let out = ''
    proc.child.stdout.on('data', (d) => {
      out += d
    })
    const deadline = Date.now() + 20000
    while (!/NO_RECIPIENT/.test(proc.stderr) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    t.ok(/no greeting from .*: NO_RECIPIENT/.test(proc.stderr), `${runtime}: the failure is reported`)
    t.ok(/hello-actors\.js:\d+/.test(proc.stderr), `${runtime}: its stack names the example's line`)
    // Still running: greet it, and it leaves and ends by itself.
    const at = /up at (\S+)/.exec(out)[1]
    t.is(await system.ref(`${at}/user/greeter`).ask('test', { timeoutMs: 5000 }), `hello test, from ${runtime}`, `${runtime}: still alive after the failed ask`)
    t.is((await proc.exited).code, 0, `${runtime}: ended cleanly`)
    await system.terminate({ leave: false })
  }
})
