// The examples the README points at run to the end on every runtime.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const EXAMPLES = [
  ['p2p-chat.js', /everyone has left/],
  ['cluster.js', /ada is alone: 1 up/],
  ['two-nodes.js', /both nodes shut down/]
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
