// The examples the README points at run to the end on every runtime.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const EXAMPLES = [
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
