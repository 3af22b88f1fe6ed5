// One or more messages of every kind, with edge values, shared by the codec tests, the vector
// generator and the fuzzer.
const MAX = Number.MAX_SAFE_INTEGER

function bytes(n, seed = 1) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

export function samples() {
  return [
    ['hello', { kind: 'hello', minVersion: 3, maxVersion: 3, cluster: 'app', from: 'actor-cluster://app@127.0.0.1:2552', incarnation: 1838506722830958, maxFrameBytes: 16777216, features: 0, nonce: bytes(32), proof: null, ackIncarnation: 0, ack: 0 }],
    ['hello-resuming', { kind: 'hello', minVersion: 3, maxVersion: 3, cluster: 'app', from: 'actor-cluster://app@127.0.0.1:2552', incarnation: 1838506722830958, maxFrameBytes: 16777216, features: 0, nonce: bytes(32), proof: null, ackIncarnation: 1838506722830001, ack: 70000 }],
    ['hello-proof', { kind: 'hello', minVersion: 0, maxVersion: MAX, cluster: '', from: 'actor-ts://x@[::1]:0', incarnation: MAX, maxFrameBytes: 0, features: MAX, nonce: new Uint8Array(0), proof: bytes(64, 9), ackIncarnation: MAX, ack: MAX }],
    ['hello-ack', { kind: 'hello-ack', version: 3, cluster: 'app', from: 'actor-cluster://app@10.0.0.5:2553', incarnation: 7, maxFrameBytes: 1024, features: 1, nonce: bytes(32, 2), proof: bytes(32, 3), ackIncarnation: 1838506722830958, ack: 5 }],
    ['auth', { kind: 'auth', proof: bytes(32, 4) }],
    ['heartbeat', { kind: 'heartbeat', seq: 0, sentAt: 0 }],
    ['heartbeat-max', { kind: 'heartbeat', seq: MAX, sentAt: 123456.789 }],
    ['heartbeat-ack', { kind: 'heartbeat-ack', seq: 42, sentAt: -1.5 }],
    ['gossip-empty', { kind: 'gossip', digest: [], deltas: [], reply: false, summary: null }],
    ['gossip-summary', { kind: 'gossip', digest: [], deltas: [], reply: true, summary: bytes(16, 11) }],
    ['gossip', {
      kind: 'gossip',
      reply: true,
      summary: null,
      digest: [
        { address: 'actor-cluster://app@127.0.0.1:1', incarnation: 1, version: 0, status: 'joining' },
        { address: 'actor-cluster://app@127.0.0.1:2', incarnation: MAX, version: MAX, status: 'down' }
      ],
      deltas: [
        { address: 'actor-cluster://app@127.0.0.1:1', incarnation: 1, version: 3, status: 'joining', roles: [], unreachable: [], key: bytes(32, 12), signature: bytes(64, 13), vouch: null, decision: null },
        {
          address: 'actor-cluster://app@127.0.0.1:2',
          incarnation: 2,
          version: 9,
          status: 'leaving',
          roles: ['web', 'ünï'],
          unreachable: [{ address: 'actor-cluster://app@127.0.0.1:3', version: 300 }],
          key: bytes(32, 14),
          signature: bytes(64, 15),
          vouch: { by: 'actor-cluster://app@127.0.0.1:1', signature: bytes(64, 16) },
          decision: { status: 'up', by: 'actor-cluster://app@127.0.0.1:1', signature: bytes(64, 17) }
        },
        {
          address: 'actor-cluster://app@127.0.0.1:3',
          incarnation: 3,
          version: 1,
          status: 'joining',
          roles: ['x'],
          unreachable: [],
          key: bytes(32, 18),
          signature: bytes(64, 19),
          vouch: null,
          decision: { status: 'removed', by: 'actor-cluster://app@127.0.0.1:1', signature: bytes(64, 20) }
        }
      ]
    }],
    ['envelope', { kind: 'envelope', to: 'actor-cluster://app@127.0.0.1:1/user/echo', from: 'actor-cluster://app@127.0.0.1:2/user/ünïcødé-😀', manifest: 'json', body: bytes(64, 5), correlationId: 17 }],
    ['envelope-bare', { kind: 'envelope', to: '', from: null, manifest: '', body: new Uint8Array(0), correlationId: null }],
    ['envelope-max-id', { kind: 'envelope', to: 'user/a', from: null, manifest: 'm', body: bytes(3), correlationId: MAX }],
    ['subsystem', { kind: 'subsystem', channel: 'pubsub', body: bytes(10, 6) }],
    ['subsystem-empty', { kind: 'subsystem', channel: '', body: new Uint8Array(0) }],
    ['leave', { kind: 'leave', address: 'actor-cluster://app@127.0.0.1:2552' }],
    ['goodbye', { kind: 'goodbye', reason: 'shutdown' }],
    // Handshake refusals say what differs after ': ' (docs/wire.md, "Refusals").
    ['goodbye-cluster-mismatch', { kind: 'goodbye', reason: 'cluster mismatch: "alpha"' }],
    ['goodbye-version', { kind: 'goodbye', reason: 'incompatible wire version: 1-1' }],
    ['goodbye-secret-required', { kind: 'goodbye', reason: 'authentication failed: a cluster secret is required' }],
    ['goodbye-no-secret-here', { kind: 'goodbye', reason: 'authentication failed: this node has no cluster secret' }],
    ['goodbye-secrets-differ', { kind: 'goodbye', reason: 'authentication failed: the cluster secrets differ' }],
    ['chunk', { kind: 'chunk', id: 1, offset: 65536, totalBytes: 16777216, data: bytes(16, 7) }],
    ['ack', { kind: 'ack', delivered: 300 }],
    ['ack-max', { kind: 'ack', delivered: MAX }],
    ['resume', { kind: 'resume', next: 1 }]
  ]
}

// Messages as JSON with byte strings written {"hex": "..."}.
export function toJSON(msg) {
  return walk(msg, (b) => ({ hex: hex(b) }))
}

export function fromJSON(json) {
  return JSON.parse(JSON.stringify(json), (k, v) => (v && typeof v === 'object' && typeof v.hex === 'string' ? unhex(v.hex) : v))
}

export function hex(b) {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

export function unhex(s) {
  const b = new Uint8Array(s.length / 2)
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16)
  return b
}

// Plain objects with byte strings as arrays, for deep comparison across runtimes.
export function plain(msg) {
  return walk(msg, (b) => Array.from(b))
}

// Copies a value, replacing byte strings (Buffers included) with what `bytes` makes of them.
function walk(v, bytes) {
  if (v instanceof Uint8Array) return bytes(v)
  if (Array.isArray(v)) return v.map((x) => walk(x, bytes))
  if (v !== null && typeof v === 'object') {
    const out = {}
    for (const k of Object.keys(v)) out[k] = walk(v[k], bytes)
    return out
  }
  return v
}
