// The few cryptographic primitives the handshake needs, from bare-crypto on Bare and node:crypto
// on Node, Bun and Deno (all three provide it through process.getBuiltinModule).

import natives from '#bare-natives'
import { builtinModule } from './socket-base.ts'

interface Hmac {
  update(data: Uint8Array): Hmac
  digest(): Uint8Array
}

interface CryptoModule {
  createHmac(algorithm: string, key: Uint8Array): Hmac
  randomBytes(n: number): Uint8Array
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
}

let crypto: CryptoModule | null = null

export function randomBytes(n: number): Uint8Array {
  return cryptoModule().randomBytes(n)
}

/** HMAC-SHA256 of the parts, in order. */
export function hmacSha256(key: Uint8Array, parts: Uint8Array[]): Uint8Array {
  const mac = cryptoModule().createHmac('sha256', key)
  for (const p of parts) mac.update(p)
  return new Uint8Array(mac.digest())
}

/** Compares in time that depends only on the length. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return cryptoModule().timingSafeEqual(a, b)
}

function cryptoModule(): CryptoModule {
  if (crypto !== null) return crypto
  if (natives !== null && typeof natives === 'object') {
    crypto = (natives as { crypto: CryptoModule }).crypto
    return crypto
  }
  crypto = builtinModule<CryptoModule>('node:crypto')
  return crypto
}
