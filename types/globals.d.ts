// The globals that Bare, Node, Bun and Deno all provide, and nothing more: code under lib/ and
// backends/ must not reach for a global that one of them lacks.

type TimerHandle = { readonly __timer: unique symbol } | number

declare function setTimeout(fn: () => void, ms?: number): TimerHandle
declare function clearTimeout(handle: TimerHandle | null | undefined): void
declare function setInterval(fn: () => void, ms?: number): TimerHandle
declare function clearInterval(handle: TimerHandle | null | undefined): void
declare function queueMicrotask(fn: () => void): void

declare const console: {
  log(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
  debug(...args: unknown[]): void
}

// Not here on purpose: TextEncoder, TextDecoder, performance, crypto, process (Bare has none of
// them). Use b4a for text and bytes.
