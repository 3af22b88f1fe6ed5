// Termination signals and process exit on each runtime: Node and Bun through `process`, Deno
// through `Deno.addSignalListener`, Bare through bare-signals (loaded with Bare's other modules,
// so a handler is in place when `onSignals` returns: a signal a moment later must not find the
// default action, which ends the process). Handlers never keep a process alive that would
// otherwise end.

import natives from '#bare-natives'
import { detectRuntime } from './runtime.ts'

export type SignalName = 'SIGINT' | 'SIGTERM' | 'SIGHUP'

interface NodeProcess {
  on(event: string, fn: () => void): unknown
  off(event: string, fn: () => void): unknown
  exit(code?: number): never
}

interface DenoSignals {
  addSignalListener(signal: string, fn: () => void): void
  removeSignalListener(signal: string, fn: () => void): void
  exit(code?: number): never
}

interface BareSignal {
  on(event: 'signal', fn: () => void): unknown
  start(): BareSignal
  unref(): BareSignal
  close(): unknown
}

type BareSignalClass = new (name: string) => BareSignal

const BareSignal = natives !== null && typeof natives === 'object' ? ((natives as { signals?: BareSignalClass }).signals ?? null) : null

// Calls `fn` with the signal's name on each of `signals`; returns what removes the handlers.
// `onerror` hears why handlers could not be set (on Bare: bare-signals did not load or start).
export function onSignals(signals: SignalName[], fn: (signal: SignalName) => void, onerror: (err: unknown) => void = noop): () => void {
  const g = globalThis as { process?: NodeProcess; Deno?: DenoSignals }
  const undo: (() => void)[] = []
  const runtime = detectRuntime()
  for (const name of signals) {
    const handler = () => fn(name)
    if (runtime === 'bare') {
      if (BareSignal === null) {
        onerror(new Error('bare-signals is not loaded'))
        continue
      }
      try {
        const signal = new BareSignal(name)
        signal.on('signal', handler)
        signal.start().unref()
        undo.push(() => signal.close())
      } catch (err) {
        onerror(err)
      }
    } else if (runtime === 'deno') {
      g.Deno!.addSignalListener(name, handler)
      undo.push(() => g.Deno!.removeSignalListener(name, handler))
    } else {
      g.process!.on(name, handler)
      undo.push(() => g.process!.off(name, handler))
    }
  }
  return () => {
    for (const u of undo.splice(0)) u()
  }
}

function noop(): void {}

export function exitProcess(code: number): void {
  const g = globalThis as { Bare?: { exit(code?: number): never }; process?: NodeProcess; Deno?: DenoSignals }
  if (g.Bare !== undefined) g.Bare.exit(code)
  else if (g.Deno !== undefined) g.Deno.exit(code)
  else g.process?.exit(code)
}

// In a Pear app, the app's own teardown: true when there is one (and `fn` is registered).
export function pearTeardown(fn: () => Promise<void>): boolean {
  const pear = (globalThis as { Pear?: { teardown?(fn: () => Promise<void>): void } }).Pear
  if (typeof pear?.teardown !== 'function') return false
  pear.teardown(fn)
  return true
}
