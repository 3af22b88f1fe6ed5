// Writes test/vectors/sharding.json: every sample sharding message as the body of its channel
// message and as a whole frame, in hex, and the shard of some entity ids. Run it only when the
// format changes on purpose; the tests compare against the committed file.
import fs from 'node:fs'
import { encodeFrame, encodeShardingMessage, shardOf, SHARDING_CHANNEL } from 'actor-cluster-bare'
import { toJSON, hex } from '../helpers/wire-samples.js'
import { shardingSamples, SHARD_IDS, SHARD_COUNTS } from '../helpers/sharding-samples.js'

const messages = shardingSamples().map(([name, msg]) => {
  const body = encodeShardingMessage(msg)
  return { name, message: toJSON(msg), body: hex(body), frame: hex(encodeFrame({ kind: 'subsystem', channel: SHARDING_CHANNEL, body })) }
})
const shards = SHARD_IDS.map((id) => ({ id, shards: SHARD_COUNTS.map((n) => [n, shardOf(id, n)]) }))
fs.writeFileSync(new URL('./sharding.json', import.meta.url), JSON.stringify({ messages, shards }, null, 2) + '\n')
console.log(`wrote ${messages.length} sharding vectors`)
