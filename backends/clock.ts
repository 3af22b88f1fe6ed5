// Milliseconds from a monotonic clock: performance.now() on Node, Bun and Deno, bare-hrtime on
// Bare (which has no performance global).
import natives from '#bare-natives'

type HrTime = { bigint(): bigint }

const perf = (globalThis as { performance?: { now(): number } }).performance
const hrtime = natives !== null && typeof natives === 'object' ? (natives as { hrtime: HrTime }).hrtime : null

export const now: () => number = perf
  ? () => perf.now()
  : hrtime !== null
    ? () => Number(hrtime.bigint() / 1000n) / 1000
    : () => Date.now()
