import type { RuntimeName } from './types.ts'

/**
 * Which runtime this is, told by the globals each one defines. Bun and Deno also define
 * `process`, so they are asked first.
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as { Bare?: unknown; Bun?: unknown; Deno?: unknown }
  if (typeof g.Bare === 'object' && g.Bare !== null) return 'bare'
  if (typeof g.Bun === 'object' && g.Bun !== null) return 'bun'
  if (typeof g.Deno === 'object' && g.Deno !== null) return 'deno'
  return 'node'
}
