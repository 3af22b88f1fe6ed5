import b4a from 'b4a'
import { ClusterError } from '../lib/errors.ts'
import type { TlsSettings } from './types.ts'

export interface ResolvedTls {
  cert: string
  key: string
  ca: string | null
  rejectUnauthorized: boolean
  serverName: string | null
}

/** Half-configured TLS is an error, never a quiet fall-back to plaintext. */
export function resolveTls(tls: TlsSettings | null | undefined): ResolvedTls | null {
  if (tls === null || tls === undefined) return null
  if (typeof tls !== 'object') throw ClusterError.TLS_CONFIG('tls must be an object or null')
  const cert = pem(tls.cert, 'cert')
  const key = pem(tls.key, 'key')
  if (cert === null && key === null) throw ClusterError.TLS_CONFIG('tls needs cert and key')
  if (cert === null) throw ClusterError.TLS_CONFIG('tls has a key but no cert')
  if (key === null) throw ClusterError.TLS_CONFIG('tls has a cert but no key')
  const ca = pem(tls.ca, 'ca')
  const rejectUnauthorized = tls.rejectUnauthorized !== false
  if (tls.serverName !== undefined && tls.serverName !== null && typeof tls.serverName !== 'string') {
    throw ClusterError.TLS_CONFIG('tls.serverName must be a string')
  }
  return { cert, key, ca, rejectUnauthorized, serverName: tls.serverName ?? null }
}

function pem(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null
  const text = typeof value === 'string' ? value : value instanceof Uint8Array ? b4a.toString(value, 'utf8') : null
  if (text === null) throw ClusterError.TLS_CONFIG(`tls.${name} must be a PEM string or bytes`)
  if (!text.includes('-----BEGIN ')) throw ClusterError.TLS_CONFIG(`tls.${name} is not PEM`)
  return text
}
