// One sample of every sharding message, for the golden vectors and the codec tests, and entity
// ids whose shards every implementation must compute alike.
export function shardingSamples() {
  return [
    ['envelope', { tag: 1, type: 'room', entityId: 'lobby', hops: 0, sender: 'actor-cluster://app@127.0.0.1:2552/temp/0a1b2c3d4e5f60718293a4b5', manifest: '', body: new Uint8Array([7, 5, 104, 101, 108, 108, 111]) }],
    ['envelope-no-sender', { tag: 1, type: 'device', entityId: 'sensor/ü-42', hops: 2, sender: null, manifest: 'app.Reading', body: new Uint8Array([1, 2, 3]) }],
    ['report', { tag: 2, numberOfShards: 100, version: 7, leaving: false, types: [{ name: 'room', host: true, shards: [0, 5, 99] }, { name: 'device', host: false, shards: [] }] }],
    ['report-leaving-client', { tag: 2, numberOfShards: 100, version: 0, leaving: true, types: [] }],
    ['allocation', { tag: 3, version: 8, numberOfShards: 4, nodes: ['actor-cluster://app@127.0.0.1:2552', 'actor-cluster://app@127.0.0.1:2553'], types: [{ name: 'room', owners: [1, 2, 0, 1] }] }],
    ['shard-stopped', { tag: 4, type: 'room', shards: [3, 17] }],
    ['refused', { tag: 5, numberOfShards: 100, reason: 'this cluster has 100 shards, not 64' }],
    ['handed-over', { tag: 6, type: 'room', shards: [3, 17] }]
  ]
}

export const SHARD_IDS = ['', 'a', 'lobby', 'room-1', 'room-2', 'user:1000', 'sensor/ü-42', '日本語', 'x'.repeat(200)]
export const SHARD_COUNTS = [1, 10, 100, 1000, 65536]
