// z-base-32, the encoding hyperswarm and Pear use to write public keys: 5 bits a character,
// most significant first, lower-case letters and digits chosen to be easy to read aloud.

const ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'
const VALUES: Int8Array = (() => {
  const v = new Int8Array(128).fill(-1)
  for (let i = 0; i < ALPHABET.length; i++) v[ALPHABET.charCodeAt(i)] = i
  return v
})()

/** The bytes as z-base-32, with no padding (32 bytes make 52 characters). */
export function encodeZ32(bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (let i = 0; i < bytes.byteLength; i++) {
    acc = (acc << 8) | bytes[i]!
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(acc >>> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31]
  return out
}

/**
 * The bytes a z-base-32 string of `byteLength` bytes holds, or null when it is not one: wrong
 * length, a character outside the alphabet, or padding bits that are not zero (so each key has
 * exactly one spelling).
 */
export function decodeZ32(text: string, byteLength: number): Uint8Array | null {
  if (text.length !== Math.ceil((byteLength * 8) / 5)) return null
  const out = new Uint8Array(byteLength)
  let acc = 0
  let bits = 0
  let at = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const v = code < 128 ? VALUES[code]! : -1
    if (v < 0) return null
    acc = (acc << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[at++] = (acc >>> bits) & 255
    }
    acc &= (1 << bits) - 1
  }
  if (acc !== 0) return null
  return out
}
