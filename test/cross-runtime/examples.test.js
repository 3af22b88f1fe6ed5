// The examples the README points at run to the end on every runtime.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const EXAMPLES = [
  ['p2p-chat.js', /everyone has left/],
  ['cluster.js', /ada is alone: 1 up/],
  ['two-nodes.js', /both nodes shut down/],
  ['sharded-chat.js', /every room answered; \d+ posts sent, 0 dropped/]
]

for (const [file, ending] of EXAMPLES) {
  test(`example/${file} runs on Bare, Node, Bun and Deno`, { timeout: 120000 }, async (t) => {
    // One runtime at a time: the cluster example uses fixed ports.
    for (const runtime of RUNTIMES) {
      const proc = start(t, runtime, path.join(ROOT, 'example', file))
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
