import { bareTcpBackend } from './bare.ts'
import { bunTcpBackend } from './bun.ts'
import { denoTcpBackend } from './deno.ts'
import { nodeTcpBackend } from './node.ts'
import { detectRuntime } from './runtime.ts'
import type { RuntimeName, TcpBackend } from './types.ts'

const BACKENDS: Record<RuntimeName, TcpBackend> = {
  bare: bareTcpBackend,
  node: nodeTcpBackend,
  bun: bunTcpBackend,
  deno: denoTcpBackend
}

/** The backend of the runtime this code runs on. */
export function getTcpBackend(runtime: RuntimeName = detectRuntime()): TcpBackend {
  return BACKENDS[runtime]
}

export { bareTcpBackend, bunTcpBackend, denoTcpBackend, nodeTcpBackend, detectRuntime }
export { resolveTls } from './tls-settings.ts'
export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HIGH_WATER_MARK } from './types.ts'
export type {
  ConnectOptions,
  ListenOptions,
  RuntimeName,
  TcpBackend,
  TcpServer,
  TcpSocket,
  TlsMaterial,
  TlsSettings
} from './types.ts'
