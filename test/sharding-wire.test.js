// The sharding messages on the wire: golden vectors both ways, the shard of an id, and hostile
// bodies (truncated, oversized, out of range) refused with BAD_MESSAGE.
import test from 'brittle'
import { encodeFrame, encodeShardingMessage, decodeShardingMessage, shardOf, SHARDING_CHANNEL, SHARDING_LIMITS } from 'actor-cluster-bare'
import vectors from './vectors/sharding.json' with { type: 'json' }
import { fromJSON, hex, unhex, plain } from './helpers/wire-samples.js'
import { shardingSamples, SHARD_IDS, SHARD_COUNTS } from './helpers/sharding-samples.js'

test('golden vectors: encoding gives the committed bytes, decoding gives the message', (t) => {
  t.is(vectors.messages.length, shardingSamples().length, 'one vector per sample')
  t.is(new Set(vectors.messages.map((v) => v.message.tag)).size, 6, 'every message has a vector')
  for (const v of vectors.messages) {
    const msg = fromJSON(v.message)
    const body = encodeShardingMessage(msg)
    t.is(hex(body), v.body, `${v.name}: body`)
    t.is(hex(encodeFrame({ kind: 'subsystem', channel: SHARDING_CHANNEL, body })), v.frame, `${v.name}: frame`)
    t.alike(plain(decodeShardingMessage(unhex(v.body))), plain(msg), `${v.name}: decodes`)
  }
})

test('the shard of an entity id is FNV-1a of its UTF-8 bytes modulo the number of shards', (t) => {
  t.is(vectors.shards.length, SHARD_IDS.length)
  for (const v of vectors.shards) for (const [n, s] of v.shards) t.is(shardOf(v.id, n), s, `${JSON.stringify(v.id.slice(0, 12))} of ${n}`)
  t.ok(SHARD_COUNTS.length > 0)
})

test('a truncated body, trailing bytes, an unknown tag or values out of range are BAD_MESSAGE', (t) => {
  let refused = 0
  for (const v of vectors.messages) {
    const body = unhex(v.body)
    for (let n = 0; n < body.byteLength; n++) {
      try {
        decodeShardingMessage(body.subarray(0, n))
        t.fail(`${v.name} cut at ${n} decoded`)
      } catch (err) {
        if (err.code !== 'BAD_MESSAGE') t.fail(`${v.name} cut at ${n}: ${err.code}`)
        refused++
      }
    }
    t.exception(() => decodeShardingMessage(new Uint8Array([...body, 0])), /BAD_MESSAGE/, `${v.name} with a byte more`)
  }
  t.ok(refused > 100, `${refused} truncations refused`)
  t.exception(() => decodeShardingMessage(new Uint8Array([0])), /BAD_MESSAGE/)
  t.exception(() => decodeShardingMessage(new Uint8Array([42, 1, 2])), /BAD_MESSAGE/)
  // An allocation whose owner index names no node, or lists the wrong number of shards.
  const alloc = { tag: 3, version: 1, numberOfShards: 2, nodes: ['actor-cluster://a@127.0.0.1:1'], types: [{ name: 'x', owners: [1, 2] }] }
  t.exception(() => decodeShardingMessage(encodeShardingMessage(alloc)), /BAD_MESSAGE/)
  t.exception(() => decodeShardingMessage(encodeShardingMessage({ ...alloc, types: [{ name: 'x', owners: [1] }] })), /BAD_MESSAGE/)
  // A report of a shard beyond the count, or zero shards.
  t.exception(() => decodeShardingMessage(encodeShardingMessage({ tag: 2, numberOfShards: 4, version: 0, leaving: false, types: [{ name: 'x', host: true, shards: [4] }] })), /BAD_MESSAGE/)
  t.exception(() => decodeShardingMessage(encodeShardingMessage({ tag: 5, numberOfShards: 0, reason: '' })), /BAD_MESSAGE/)
  // Senders refuse what receivers would.
  t.exception(() => encodeShardingMessage({ tag: 4, type: 'x'.repeat(SHARDING_LIMITS.maxTypeName + 1), shards: [] }), /BAD_MESSAGE/)
  t.exception(() => encodeShardingMessage({ tag: 9 }), /BAD_MESSAGE/)
})
