// An ask's failure as its caller sees it: the code of what went wrong, the actor asked and the
// timeout in the message, and a stack that starts at the caller's `ask` (captured there), not in
// the timer or socket callback that settled it.

import { ClusterError } from '../errors.ts'

const CALL_SITE_FRAMES = 4

export interface CallSite {
  stack?: string
}

interface CaptureStackTrace {
  captureStackTrace?(target: object, fn?: Function): void
}

/**
 * A few frames above `fn` (the caller's line and what called it); V8 (Node, Bare, Deno) and Bun
 * format them only when read. Few, because every ask pays for the capture, failed or not.
 */
export function captureCallSite(fn: Function): CallSite {
  const site: CallSite = {}
  const E = Error as unknown as CaptureStackTrace & { stackTraceLimit?: number }
  const limit = E.stackTraceLimit
  E.stackTraceLimit = CALL_SITE_FRAMES
  if (typeof E.captureStackTrace === 'function') E.captureStackTrace(site, fn)
  else site.stack = new Error().stack
  E.stackTraceLimit = limit
  return site
}

export function askFailure(err: ClusterError, path: string, timeoutMs: number, site: CallSite | null): ClusterError {
  const text = err.message.startsWith(err.code + ': ') ? err.message.slice(err.code.length + 2) : err.message
  const detail = !text.includes(path) ? `${text} (ask to ${path}, timeout ${timeoutMs} ms)` : text.includes(`${timeoutMs} ms`) ? text : `${text} (ask, timeout ${timeoutMs} ms)`
  const out = new ClusterError(err.code, detail, { cause: err })
  const frames = site === null ? null : framesOf(site.stack)
  if (frames !== null) out.stack = `${out.name}: ${out.message}\n${frames}`
  return out
}

function framesOf(stack: string | undefined): string | null {
  if (typeof stack !== 'string') return null
  const lines = stack.split('\n')
  const first = lines.findIndex((l) => /^\s*at /.test(l) || /@/.test(l))
  if (first === -1) return null
  return lines.slice(first).join('\n')
}
