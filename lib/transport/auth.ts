// Proof of a shared cluster secret, both ways, in the handshake. Each side's proof is an
// HMAC-SHA256 under the secret of everything the handshake fixed: the cluster name, both node
// addresses, both incarnations and both fresh nonces, with a label for the prover's role. A
// recorded handshake is useless against a new nonce, and a listener's proof cannot stand in for
// a dialler's.

import b4a from 'b4a'
import { hmacSha256, timingSafeEqual } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'

/** Feature bit in hello / hello-ack: this side requires the cluster secret. */
export const SECRET_FEATURE = 1
export const MIN_SECRET_BYTES = 16

export interface HandshakeSide {
  address: string
  incarnation: number
  nonce: Uint8Array
}

export type Role = 'dialler' | 'listener'

const LABELS: Record<Role, Uint8Array> = {
  dialler: b4a.from('actor-cluster-bare v1 dialler proof'),
  listener: b4a.from('actor-cluster-bare v1 listener proof')
}

export function normalizeSecret(secret: string | Uint8Array | null | undefined): Uint8Array | null {
  if (secret === null || secret === undefined) return null
  const bytes = typeof secret === 'string' ? b4a.from(secret, 'utf8') : secret
  if (!(bytes instanceof Uint8Array)) throw ClusterError.BAD_OPTIONS('secret must be a string or bytes')
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw ClusterError.BAD_OPTIONS(`secret must be at least ${MIN_SECRET_BYTES} bytes; use a long random one`)
  }
  return bytes
}

export function proveHandshake(secret: Uint8Array, role: Role, cluster: string, dialler: HandshakeSide, listener: HandshakeSide): Uint8Array {
  return hmacSha256(secret, [
    LABELS[role],
    field(b4a.from(cluster, 'utf8')),
    field(b4a.from(dialler.address, 'utf8')),
    uint(dialler.incarnation),
    field(dialler.nonce),
    field(b4a.from(listener.address, 'utf8')),
    uint(listener.incarnation),
    field(listener.nonce)
  ])
}

export function checkProof(
  given: Uint8Array | null,
  secret: Uint8Array,
  role: Role,
  cluster: string,
  dialler: HandshakeSide,
  listener: HandshakeSide
): boolean {
  if (given === null) return false
  return timingSafeEqual(proveHandshake(secret, role, cluster, dialler, listener), given)
}

// A length-prefixed field, so no two transcripts concatenate to the same bytes.
function field(bytes: Uint8Array): Uint8Array {
  const out = b4a.allocUnsafe(4 + bytes.byteLength)
  new DataView(out.buffer, out.byteOffset, 4).setUint32(0, bytes.byteLength, true)
  out.set(bytes, 4)
  return out
}

function uint(n: number): Uint8Array {
  const out = b4a.alloc(8)
  const view = new DataView(out.buffer, out.byteOffset, 8)
  view.setUint32(0, n % 0x100000000, true)
  view.setUint32(4, Math.floor(n / 0x100000000), true)
  return out
}
