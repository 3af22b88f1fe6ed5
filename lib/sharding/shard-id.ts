// Which shard an entity lives in: FNV-1a (32 bits) of the id's UTF-8 bytes, modulo the number of
// shards. Every runtime computes the same number, so every node agrees without asking.

import b4a from 'b4a'

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

export function shardOf(entityId: string, numberOfShards: number): number {
  let h = FNV_OFFSET
  let ascii = true
  for (let i = 0; i < entityId.length; i++) {
    if (entityId.charCodeAt(i) >= 0x80) {
      ascii = false
      break
    }
  }
  if (ascii) {
    for (let i = 0; i < entityId.length; i++) h = Math.imul(h ^ entityId.charCodeAt(i), FNV_PRIME)
  } else {
    const bytes = b4a.from(entityId, 'utf8')
    for (let i = 0; i < bytes.byteLength; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME)
  }
  return (h >>> 0) % numberOfShards
}
