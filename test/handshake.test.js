// The handshake state machine alone: no socket, no timer. Frames go in, steps come out.
import test from 'brittle'
import b4a from 'b4a'
import { ClusterError, NodeAddress, WIRE_VERSION, MIN_WIRE_VERSION } from 'actor-cluster-bare'
import { Handshake, HandshakeState, DUPLICATE_REASON, AUTH_REASON } from 'actor-cluster-bare/testkit'

const SECRET = b4a.from('correct horse battery staple, at length')
const OTHER_SECRET = b4a.from('another secret, just as long as that')
const A = NodeAddress.parse('actor-cluster://hs@127.0.0.1:4001')
const B = NodeAddress.parse('actor-cluster://hs@127.0.0.1:4002')

function identity(address, opts = {}) {
  return { address, cluster: 'hs', incarnation: opts.incarnation ?? 7, maxFrameBytes: opts.maxFrameBytes ?? 1 << 20, secret: opts.secret ?? null }
}

// A dialler A expecting B, and a listener B.
function pair(opts = {}) {
  const dialler = new Handshake(identity(A, opts.a), { outbound: true, expected: opts.expected ?? B })
  const listener = new Handshake(identity(B, opts.b), { outbound: false, accept: opts.accept })
  return { dialler, listener }
}

function refusal(t, step, code, reason) {
  t.is(step.then, 'end', 'ends the connection politely')
  t.is(step.send?.kind, 'goodbye', 'with a goodbye')
  if (reason !== undefined) t.is(step.send.reason, reason)
  t.is(step.error?.code, code, code)
}

function failure(t, step, code) {
  t.is(step.then, 'destroy', 'cuts the connection')
  t.is(step.send, null, 'says nothing')
  t.is(step.error?.code, code, code)
}

test('handshake: without a secret, hello and hello-ack open both sides', (t) => {
  const { dialler, listener } = pair({ b: { maxFrameBytes: 65536, incarnation: 9 } })
  t.is(listener.start(), null, 'the listener speaks second')
  const hello = dialler.start()
  t.is(hello.kind, 'hello')
  t.is(hello.from, A.toString())
  t.is(hello.features, 0)
  const answer = listener.receive(hello)
  t.is(answer.then, 'open')
  t.is(answer.error, null)
  t.is(answer.send.kind, 'hello-ack')
  t.is(answer.send.version, WIRE_VERSION)
  t.is(answer.send.proof, null)
  t.is(listener.state, HandshakeState.OPEN)
  t.ok(listener.remote.equals(A), 'the listener knows the dialler')
  t.is(listener.incarnation, 7)
  const done = dialler.receive(answer.send)
  t.alike([done.then, done.send, done.error], ['open', null, null])
  t.ok(dialler.remote.equals(B))
  t.is(dialler.incarnation, 9)
  t.is(dialler.peerMaxFrameBytes, 65536, 'the peer announced its frame limit')
  t.is(dialler.version, WIRE_VERSION)
})

test('handshake: with a secret, each side proves it and the listener opens on the proof', (t) => {
  const { dialler, listener } = pair({ a: { secret: SECRET }, b: { secret: SECRET } })
  const hello = dialler.start()
  t.is(hello.features & 1, 1, 'the hello says a secret is needed')
  const ack = listener.receive(hello)
  t.is(ack.then, 'wait', 'the listener waits for the proof')
  t.ok(ack.send.proof instanceof Uint8Array, "the listener's proof")
  t.is(listener.state, HandshakeState.AWAIT_AUTH)
  const auth = dialler.receive(ack.send)
  t.is(auth.then, 'open')
  t.is(auth.send.kind, 'auth', "the dialler's proof")
  const open = listener.receive(auth.send)
  t.alike([open.then, open.send, open.error], ['open', null, null])
})

test('handshake: the listener refuses with a goodbye and a code', (t) => {
  const cases = [
    ['no common wire version', {}, (h) => ({ ...h, minVersion: WIRE_VERSION + 1, maxVersion: WIRE_VERSION + 2 }), 'BAD_VERSION', `incompatible wire version: ${MIN_WIRE_VERSION}-${WIRE_VERSION}`],
    ['another cluster', {}, (h) => ({ ...h, cluster: 'other' }), 'CLUSTER_MISMATCH', 'cluster mismatch: "hs"'],
    ['a secret here, none there', { b: { secret: SECRET } }, (h) => h, 'AUTH_FAILED', `${AUTH_REASON}: a cluster secret is required`],
    ['a secret there, none here', { a: { secret: SECRET } }, (h) => h, 'AUTH_FAILED', `${AUTH_REASON}: this node has no cluster secret`],
    ['the transport keeps another connection', { accept: () => DUPLICATE_REASON }, (h) => h, 'HANDSHAKE_FAILED', DUPLICATE_REASON],
    ['the transport refuses with a code of its own', { accept: () => ClusterError.STALE_INCARNATION('not a restart') }, (h) => h, 'STALE_INCARNATION', 'STALE_INCARNATION: not a restart']
  ]
  for (const [what, opts, edit, code, reason] of cases) {
    const { dialler, listener } = pair(opts)
    const step = listener.receive(edit(dialler.start()))
    t.comment(what)
    refusal(t, step, code, reason)
    t.is(listener.state, HandshakeState.FAILED)
  }
})

test('handshake: the listener cuts a connection that breaks the protocol', (t) => {
  const cases = [
    ['a first frame that is not a hello', () => ({ kind: 'heartbeat', seq: 1, sentAt: 0 }), 'HANDSHAKE_FAILED'],
    ['a goodbye instead of a hello', () => ({ kind: 'goodbye', reason: 'no' }), 'HANDSHAKE_FAILED'],
    ["a hello claiming the listener's own address", (h) => ({ ...h, from: B.toString() }), 'HANDSHAKE_FAILED'],
    ['a hello with a malformed address', (h) => ({ ...h, from: 'not an address' }), 'BAD_ADDRESS']
  ]
  for (const [what, make, code] of cases) {
    const { dialler, listener } = pair()
    t.comment(what)
    failure(t, listener.receive(make(dialler.start())), code)
  }
})

test('handshake: a listener with a secret opens only on a good proof', (t) => {
  const cases = [
    ['a proof under another secret', (auth) => ({ ...auth, proof: new Uint8Array(32) }), 'AUTH_FAILED'],
    ['no proof but a heartbeat', () => ({ kind: 'heartbeat', seq: 1, sentAt: 0 }), 'AUTH_FAILED'],
    ['a goodbye instead of a proof', () => ({ kind: 'goodbye', reason: AUTH_REASON }), 'AUTH_FAILED']
  ]
  for (const [what, make, code] of cases) {
    const { dialler, listener } = pair({ a: { secret: SECRET }, b: { secret: SECRET } })
    const ack = listener.receive(dialler.start())
    const auth = dialler.receive(ack.send)
    t.comment(what)
    failure(t, listener.receive(make(auth.send)), code)
  }
  // A proof recorded from another handshake does not answer a fresh nonce.
  const first = pair({ a: { secret: SECRET }, b: { secret: SECRET } })
  const recorded = first.dialler.receive(first.listener.receive(first.dialler.start()).send).send
  const second = pair({ a: { secret: SECRET }, b: { secret: SECRET } })
  second.listener.receive(second.dialler.start())
  t.comment('a replayed proof')
  failure(t, second.listener.receive(recorded), 'AUTH_FAILED')
})

test('handshake: the dialler checks the answer', (t) => {
  const C = NodeAddress.parse('actor-cluster://hs@127.0.0.1:4003')
  const cases = [
    ['a first frame that is not a hello-ack', {}, () => ({ kind: 'heartbeat', seq: 1, sentAt: 0 }), 'HANDSHAKE_FAILED'],
    ['another cluster', {}, (ack) => ({ ...ack, cluster: 'other' }), 'CLUSTER_MISMATCH'],
    ['a version it does not speak', {}, (ack) => ({ ...ack, version: WIRE_VERSION + 1 }), 'BAD_VERSION'],
    ['someone else answering', { expected: C }, (ack) => ack, 'HANDSHAKE_FAILED'],
    ['a listener that wants a secret this side lacks', { b: { secret: SECRET } }, null, 'AUTH_FAILED']
  ]
  for (const [what, opts, edit, code] of cases) {
    const { dialler, listener } = pair(opts)
    let ack
    if (edit === null) {
      // The listener refuses a hello without a secret; forge the ack it would send with one.
      const withSecret = new Handshake(identity(B, { secret: SECRET }), { outbound: false })
      const other = new Handshake(identity(A, { secret: SECRET }), { outbound: true })
      ack = withSecret.receive(other.start()).send
    } else {
      ack = edit(listener.receive(dialler.start()).send)
    }
    if (edit === null) dialler.start()
    t.comment(what)
    failure(t, dialler.receive(ack), code)
  }
  const { dialler, listener } = pair({ a: { secret: SECRET }, b: { secret: OTHER_SECRET } })
  const ack = listener.receive(dialler.start())
  t.is(ack.then, 'wait', 'the listener cannot tell the secrets differ before the proof')
  t.comment("a listener proof under another secret")
  refusal(t, dialler.receive(ack.send), 'AUTH_FAILED', `${AUTH_REASON}: the cluster secrets differ`)
})

test('handshake: a goodbye to the dialler says why it was refused', (t) => {
  const dup = pair().dialler
  dup.start()
  failure(t, dup.receive({ kind: 'goodbye', reason: DUPLICATE_REASON }), 'HANDSHAKE_FAILED')
  t.ok(dup.refusedAsDuplicate, 'refused as a duplicate: the dialler waits, it does not count a failure')
  const auth = pair().dialler
  auth.start()
  failure(t, auth.receive({ kind: 'goodbye', reason: AUTH_REASON }), 'AUTH_FAILED')
  t.absent(auth.refusedAsDuplicate)
  const other = pair().dialler
  other.start()
  failure(t, other.receive({ kind: 'goodbye', reason: 'shutting down' }), 'HANDSHAKE_FAILED')
})

test('handshake: the timeout fails a handshake under way and leaves a finished one alone', (t) => {
  const { dialler } = pair()
  dialler.start()
  const late = dialler.timeout(5000, 'the listener')
  failure(t, late, 'HANDSHAKE_TIMEOUT')
  t.ok(late.error.message.includes('5000 ms'), 'says how long it waited')
  t.is(dialler.state, HandshakeState.FAILED)
  const auth = pair({ a: { secret: SECRET }, b: { secret: SECRET } }).listener
  auth.receive(new Handshake(identity(A, { secret: SECRET }), { outbound: true, expected: B }).start())
  failure(t, auth.timeout(100, 'the dialler'), 'HANDSHAKE_TIMEOUT')
  const open = pair()
  open.dialler.receive(open.listener.receive(open.dialler.start()).send)
  t.alike(open.dialler.timeout(5000, 'x'), { send: null, then: 'wait', error: null }, 'an open handshake ignores its timer')
})

test('handshake: a frame after the handshake ended is refused', (t) => {
  const { dialler, listener } = pair()
  const hello = dialler.start()
  listener.receive(hello)
  failure(t, listener.receive(hello), 'HANDSHAKE_FAILED')
  const refused = pair({ accept: () => DUPLICATE_REASON })
  const h = refused.dialler.start()
  refused.listener.receive(h)
  failure(t, refused.listener.receive({ kind: 'envelope', to: 'user/x', from: null, manifest: 'm', body: new Uint8Array(0), correlationId: null }), 'HANDSHAKE_FAILED')
})

test('handshake: a dialled seed is named by the address it announces; any other dial is checked', (t) => {
  const SEED = NodeAddress.parse('actor-cluster://hs@localhost:4002')
  const seedDial = new Handshake(identity(A), { outbound: true, expected: SEED, anyName: true })
  const listener = new Handshake(identity(B), { outbound: false })
  const open = seedDial.receive(listener.receive(seedDial.start()).send)
  t.is(open.then, 'open', 'opens')
  t.ok(seedDial.remote.equals(B), 'the remote is the announced address')
  const plain = new Handshake(identity(A), { outbound: true, expected: SEED })
  const other = new Handshake(identity(B), { outbound: false })
  failure(t, plain.receive(other.receive(plain.start()).send), 'HANDSHAKE_FAILED')
  // Even a seed may not turn out to be this node itself.
  const self = new Handshake(identity(A), { outbound: true, expected: SEED, anyName: true })
  const mirror = new Handshake(identity(A, { incarnation: 9 }), { outbound: false })
  const step = mirror.receive(self.start())
  t.is(step.then, 'destroy', 'the listener refuses its own address')
})

test('handshake: refusals name what differs on both sides, and bare reasons from older nodes still map to codes', (t) => {
  const error = (step) => step.error.message
  // Cluster names: the listener names both; its goodbye carries its name to the dialler.
  const names = pair()
  const hello = names.dialler.start()
  const refused = names.listener.receive({ ...hello, cluster: 'beta' })
  t.is(error(refused), 'CLUSTER_MISMATCH: peer 127.0.0.1:4001 is in cluster "beta", this node in "hs"', 'listener')
  const told = new Handshake(identity(A, {}), { outbound: true, expected: B })
  told.start()
  const back = told.receive({ kind: 'goodbye', reason: 'cluster mismatch: "alpha"' })
  t.is(error(back), 'CLUSTER_MISMATCH: peer 127.0.0.1:4002 is in cluster "alpha", this node in "hs"', 'dialler')
  // Secrets: each side says which one lacks it.
  const lacking = pair({ b: { secret: SECRET } })
  const step = lacking.listener.receive(lacking.dialler.start())
  t.is(error(step), 'AUTH_FAILED: peer 127.0.0.1:4001 has no cluster secret; this node requires one')
  t.is(error(lacking.dialler.receive(step.send)), 'AUTH_FAILED: peer 127.0.0.1:4002 requires a cluster secret; this node has none')
  const extra = pair({ a: { secret: SECRET } })
  const step2 = extra.listener.receive(extra.dialler.start())
  t.is(error(step2), 'AUTH_FAILED: peer 127.0.0.1:4001 uses a cluster secret; this node has none')
  t.is(error(extra.dialler.receive(step2.send)), 'AUTH_FAILED: peer 127.0.0.1:4002 has no cluster secret; this node uses one')
  // Different secrets: the dialler finds out first and tells the listener.
  const differ = pair({ a: { secret: SECRET }, b: { secret: OTHER_SECRET } })
  const ack = differ.listener.receive(differ.dialler.start())
  const bye = differ.dialler.receive(ack.send)
  t.is(error(bye), "AUTH_FAILED: peer 127.0.0.1:4002 does not share this node's cluster secret")
  t.is(error(differ.listener.receive(bye.send)), "AUTH_FAILED: peer 127.0.0.1:4001 does not share this node's cluster secret")
  // Versions: both ranges, on both sides.
  const versions = pair()
  const v = versions.listener.receive({ ...versions.dialler.start(), minVersion: 7, maxVersion: 9 })
  t.is(error(v), `BAD_VERSION: peer 127.0.0.1:4001 speaks wire versions 7-9, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`)
  t.is(error(versions.dialler.receive(v.send)), `BAD_VERSION: peer 127.0.0.1:4002 speaks wire versions ${MIN_WIRE_VERSION}-${WIRE_VERSION}, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`)
  // Older nodes send the bare reasons; a stranger may send anything, and none of it is repeated.
  for (const [reason, code, text] of [
    ['cluster mismatch', 'CLUSTER_MISMATCH', 'is in another cluster, this node in "hs"'],
    ['incompatible wire version', 'BAD_VERSION', 'speaks no wire version this node does'],
    ['incompatible wire version: 1-2\nforged log line', 'BAD_VERSION', 'speaks no wire version this node does'],
    ['cluster mismatch: not json', 'CLUSTER_MISMATCH', 'is in another cluster'],
    [AUTH_REASON, 'AUTH_FAILED', "does not share this node's cluster secret"]
  ]) {
    const d = new Handshake(identity(A, {}), { outbound: true, expected: B })
    d.start()
    const s = d.receive({ kind: 'goodbye', reason })
    t.ok(s.error.code === code && s.error.message.includes(text) && !s.error.message.includes('\n'), `${JSON.stringify(reason)}: ${s.error.message}`)
  }
})
