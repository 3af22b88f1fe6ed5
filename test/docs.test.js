// The built declarations (what `npm pack` ships) carry a doc comment on every public option and
// event, on every class the package exports and each of its public members (methods included);
// options with a default say it with @default. Checked on Node, where the TypeScript compiler runs; the other runtimes skip it.
import test from 'brittle'
import { detectRuntime } from 'actor-cluster-bare'

const onNode = detectRuntime() === 'node'

test('every public option, event, class and class member has a doc comment', { skip: !onNode }, async (t) => {
  const { fileURLToPath } = await import('node:url')
  const { undocumented } = await import('./helpers/doc-check.js')
  const root = fileURLToPath(new URL('..', import.meta.url))
  t.alike(undocumented(root), [], 'nothing undocumented in dist/*.d.ts')
})
