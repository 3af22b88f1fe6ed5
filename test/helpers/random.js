// Seeded randomness for fuzzing: the same inputs on every run and every runtime.
import { mulberry32 } from 'actor-cluster-bare/testkit'

export { mulberry32 }

export function randomBytes(random, n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256)
  return b
}

// A copy of `b` with `junk` inserted at `at`.
export function insertBytes(b, at, junk) {
  const c = new Uint8Array(b.byteLength + junk.byteLength)
  c.set(b.subarray(0, at), 0)
  c.set(junk, at)
  c.set(b.subarray(at), at + junk.byteLength)
  return c
}
