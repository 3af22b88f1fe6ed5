// Milliseconds from a monotonic clock where the runtime has one (performance.now); Bare has
// none as a global, so there it is Date.now(), with millisecond resolution.
const perf = (globalThis as { performance?: { now(): number } }).performance

export const now: () => number = perf ? () => perf.now() : () => Date.now()
