// The memory a peer keeps written batches in: reused once every batch in it is settled, never
// written over after a connection change, bounded in what an idle peer holds.
import test from 'brittle'
import { BatchSlabs, FIRST_SLAB_BYTES, MAX_SLAB_BYTES } from 'actor-cluster-bare/testkit'

// Two views share bytes (a runtime may cut small buffers from one pool, so compare ranges).
const overlaps = (x, y) =>
  x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength

const fill = (view, byte) => {
  view.fill(byte)
  return view
}

test('batch slabs: room is reused from the start once every batch in it is settled', (t) => {
  const slabs = new BatchSlabs()
  const a = { slab: null }
  const b = { slab: null }
  const first = fill(slabs.take(1000, a), 1)
  const second = fill(slabs.take(1000, b), 2)
  t.is(a.slab, b.slab, 'one slab for both')
  t.is(second.byteOffset, first.byteOffset + 1000, 'taken in order')
  slabs.release(a.slab)
  const third = fill(slabs.take(1000, { slab: null }), 3)
  t.is(third.byteOffset, second.byteOffset + 1000, 'not written over while a batch in it is kept')
  t.ok(second.every((x) => x === 2), 'the kept batch is intact')
  slabs.release(b.slab)
  slabs.release(a.slab)
  const again = slabs.take(1000, { slab: null })
  t.ok(again.buffer === first.buffer && again.byteOffset === first.byteOffset, 'the same memory, from its start once all settled')
  t.is(slabs.heldBytes, FIRST_SLAB_BYTES)
})

test('batch slabs: after abandon nothing kept is written over, even once it settles', (t) => {
  const slabs = new BatchSlabs()
  const a = { slab: null }
  const kept = fill(slabs.take(4000, a), 7)
  slabs.abandon()
  t.is(slabs.heldBytes, 0, 'an abandoned slab is not held')
  slabs.release(a.slab)
  for (let i = 0; i < 20; i++) {
    const into = { slab: null }
    const next = fill(slabs.take(4000, into), 9)
    t.absent(overlaps(next, kept), 'fresh memory')
    slabs.release(into.slab)
  }
  t.ok(kept.every((x) => x === 7), 'the abandoned batch is intact')
})

test('batch slabs: slabs grow while batches hold them, up to the cap; a big batch has its own buffer', (t) => {
  const slabs = new BatchSlabs()
  const held = []
  for (let i = 0; i < 200; i++) {
    const into = { slab: null }
    slabs.take(16 * 1024, into)
    held.push(into.slab)
  }
  t.is(slabs.heldBytes, MAX_SLAB_BYTES, 'grown to the cap')
  const own = { slab: 'unset' }
  const big = slabs.take(MAX_SLAB_BYTES / 2 + 1, own)
  t.is(own.slab, null, 'no slab')
  t.is(big.byteLength, MAX_SLAB_BYTES / 2 + 1)
  for (const s of held) slabs.release(s)
  t.is(slabs.heldBytes, 2 * MAX_SLAB_BYTES, 'the slab in use and one spare held once all settled')
})

test('batch slabs: a quiet slab with nothing kept is let go at the second trim', (t) => {
  const slabs = new BatchSlabs()
  const into = { slab: null }
  slabs.take(1000, into)
  slabs.trim()
  slabs.trim()
  t.is(slabs.heldBytes, FIRST_SLAB_BYTES, 'kept while a batch is in it')
  slabs.release(into.slab)
  slabs.take(1000, { slab: null })
  slabs.release(into.slab)
  slabs.trim()
  t.is(slabs.heldBytes, FIRST_SLAB_BYTES, 'kept through the trim after a batch was taken')
  slabs.trim()
  t.is(slabs.heldBytes, 0, 'let go once quiet')
})

test('batch slabs: full slabs whose batches settle come round again, unless abandoned', (t) => {
  const slabs = new BatchSlabs()
  const takeAll = (n, release = false) => {
    const held = []
    for (let i = 0; i < n; i++) {
      const into = { slab: null }
      slabs.take(16 * 1024, into)
      if (release) slabs.release(into.slab)
      else held.push(into.slab)
    }
    return held
  }
  const first = takeAll(200)
  for (const s of first) slabs.release(s)
  const second = takeAll(128)
  const reused = new Set(second.filter((s) => first.includes(s)))
  t.is(reused.size, 2, 'the slab in use and the spare, no new one')
  for (const s of second) slabs.release(s)
  t.ok(slabs.heldBytes <= 2 * MAX_SLAB_BYTES, 'at most two slabs held once all settled')

  const before = new Set(takeAll(50))
  slabs.abandon()
  for (const s of before) slabs.release(s)
  const after = takeAll(300, true)
  t.absent(
    after.some((s) => before.has(s)),
    'no slab from before the abandon is written over'
  )
})
