// The few cryptographic primitives the handshake and signed membership need, from bare-crypto on
// Bare and node:crypto on Node, Bun and Deno (all three provide it through
// process.getBuiltinModule). Ed25519 keys cross this boundary as raw bytes: 32 for a public key.

import natives from '#bare-natives'
import { builtinModule } from './socket-base.ts'

interface Hmac {
  update(data: Uint8Array): Hmac
  digest(): Uint8Array
}

// A key object of the runtime's crypto module (bare-crypto's Key or node:crypto's KeyObject).
type KeyObject = object

interface Hash {
  update(data: Uint8Array): Hash
  digest(): Uint8Array
}

interface CryptoModule {
  createHmac(algorithm: string, key: Uint8Array): Hmac
  createHash(algorithm: string): Hash
  randomBytes(n: number): Uint8Array
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
  sign(algorithm: null, data: Uint8Array, key: KeyObject): Uint8Array
  verify(algorithm: null, data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean
}

interface BareKey {
  export(): Uint8Array
}

interface BareCrypto extends CryptoModule {
  generateKeyPair(type: 'ed25519'): { publicKey: BareKey & KeyObject; privateKey: BareKey & KeyObject }
}

interface NodeKeyObject {
  export(opts: { format: 'der'; type: 'spki' | 'pkcs8' }): Uint8Array
}

interface NodeCrypto extends CryptoModule {
  generateKeyPairSync(type: 'ed25519'): { publicKey: NodeKeyObject & KeyObject; privateKey: NodeKeyObject & KeyObject }
  createPublicKey(opts: { key: Uint8Array; format: 'der'; type: 'spki' }): KeyObject
  createPrivateKey(opts: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): KeyObject
}

/**
 * An Ed25519 key pair as bytes, in the layout libsodium and hyperswarm use: a 32-byte public key
 * and a 64-byte secret key (the 32-byte seed, then the public key).
 */
export interface KeyPairBytes {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/** An Ed25519 key pair: the raw 32-byte public key and a function that signs with the private one. */
export interface SigningKeyPair {
  readonly publicKey: Uint8Array
  sign(data: Uint8Array): Uint8Array
}

export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows it.
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
// DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows it.
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SEED_BYTES = 32
// Public keys seen recently, as key objects, so a verification does not import the key again.
const KEY_CACHE_SIZE = 4096

let crypto: CryptoModule | null = null
let bare: BareCrypto | null = null
let bareKeyClass: (new (raw: Uint8Array) => KeyObject) | null = null
const keyCache = new Map<string, KeyObject>()

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

export function generateSigningKeyPair(): SigningKeyPair {
  const mod = cryptoModule()
  if (bare !== null) {
    const { publicKey, privateKey } = bare.generateKeyPair('ed25519')
    return { publicKey: new Uint8Array(publicKey.export()), sign: (data) => new Uint8Array(mod.sign(null, data, privateKey)) }
  }
  const { publicKey, privateKey } = (mod as NodeCrypto).generateKeyPairSync('ed25519')
  const der = publicKey.export({ format: 'der', type: 'spki' })
  const raw = new Uint8Array(der.subarray(der.byteLength - PUBLIC_KEY_BYTES))
  return { publicKey: raw, sign: (data) => new Uint8Array(mod.sign(null, data, privateKey)) }
}

/** A new Ed25519 key pair as bytes (see KeyPairBytes). */
export function generateKeyPairBytes(): KeyPairBytes {
  const mod = cryptoModule()
  if (bare !== null) {
    const { publicKey, privateKey } = bare.generateKeyPair('ed25519')
    return { publicKey: new Uint8Array(publicKey.export()), secretKey: new Uint8Array(privateKey.export()) }
  }
  const { publicKey, privateKey } = (mod as NodeCrypto).generateKeyPairSync('ed25519')
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
  const pub = new Uint8Array(spki.subarray(spki.byteLength - PUBLIC_KEY_BYTES))
  const secretKey = new Uint8Array(SEED_BYTES + PUBLIC_KEY_BYTES)
  secretKey.set(pkcs8.subarray(pkcs8.byteLength - SEED_BYTES), 0)
  secretKey.set(pub, SEED_BYTES)
  return { publicKey: pub, secretKey }
}

/**
 * Signs with an existing key pair (a 64-byte secret key as in KeyPairBytes), so one identity can
 * serve both hyperswarm and signed membership. Throws on a secret key of another length.
 */
export function signingKeyPairOf(keys: KeyPairBytes): SigningKeyPair {
  if (keys.publicKey.byteLength !== PUBLIC_KEY_BYTES || keys.secretKey.byteLength !== SEED_BYTES + PUBLIC_KEY_BYTES) {
    throw new TypeError('an Ed25519 key pair is a 32-byte public key and a 64-byte secret key')
  }
  const mod = cryptoModule()
  const publicKey = new Uint8Array(keys.publicKey)
  let privateKey: KeyObject
  if (bare !== null) {
    const cls = bare.generateKeyPair('ed25519').privateKey.constructor as new (raw: Uint8Array) => KeyObject
    privateKey = new cls(new Uint8Array(keys.secretKey))
  } else {
    const der = new Uint8Array(PKCS8_PREFIX.byteLength + SEED_BYTES)
    der.set(PKCS8_PREFIX, 0)
    der.set(keys.secretKey.subarray(0, SEED_BYTES), PKCS8_PREFIX.byteLength)
    privateKey = (mod as NodeCrypto).createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  }
  return { publicKey, sign: (data) => new Uint8Array(mod.sign(null, data, privateKey)) }
}

/** SHA-256 of the parts, in order. */
export function sha256(parts: Uint8Array[]): Uint8Array {
  const h = cryptoModule().createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/**
 * True when `signature` is `publicKey`'s Ed25519 signature of `data`; false for anything else,
 * malformed keys and signatures included.
 */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) return false
  try {
    return cryptoModule().verify(null, data, publicKeyObject(publicKey), signature) === true
  } catch {
    return false
  }
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = hex(raw)
  let key = keyCache.get(id)
  if (key !== undefined) return key
  const mod = cryptoModule()
  if (bare !== null) {
    // bare-crypto exports no way to import a raw public key synchronously, but its key class
    // takes raw bytes: reach it through a key it made.
    if (bareKeyClass === null) bareKeyClass = bare.generateKeyPair('ed25519').publicKey.constructor as new (raw: Uint8Array) => KeyObject
    key = new bareKeyClass(new Uint8Array(raw))
  } else {
    const der = new Uint8Array(SPKI_PREFIX.byteLength + PUBLIC_KEY_BYTES)
    der.set(SPKI_PREFIX, 0)
    der.set(raw, SPKI_PREFIX.byteLength)
    key = (mod as NodeCrypto).createPublicKey({ key: der, format: 'der', type: 'spki' })
  }
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear()
  keyCache.set(id, key)
  return key
}

function hex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.byteLength; i++) out += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16)
  return out
}

function cryptoModule(): CryptoModule {
  if (crypto !== null) return crypto
  if (natives !== null && typeof natives === 'object') {
    bare = (natives as { crypto: BareCrypto }).crypto
    crypto = bare
    return crypto
  }
  crypto = builtinModule<CryptoModule>('node:crypto')
  return crypto
}
