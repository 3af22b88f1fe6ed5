// Node addresses: host:port ones, and ones named by a public key (a swarm node's), which parse,
// print and compare alike and carry actor paths alike.
import test from 'brittle'
import b4a from 'b4a'
import { ActorSystem, NodeAddress } from 'actor-cluster-bare'

const KEY = b4a.from('c6d7a2f0b3e14f5a9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddcc', 'hex')

test('a key address round-trips through its z-base-32 spelling, with no port', (t) => {
  const a = NodeAddress.ofKey('app', KEY)
  t.ok(a.toString().startsWith('actor-cluster+hs://app@'), a.toString())
  t.is(a.host.length, 52, '52 characters of z-base-32')
  t.ok(/^[ybndrfg8ejkmcpqxot1uwisza345h769]+$/.test(a.host), 'in the z-base-32 alphabet')
  t.is(a.port, 0)
  t.is(a.key, `app@${a.host}`, 'a key with no port')
  t.ok(a.byKey)
  t.alike(Array.from(a.publicKey), Array.from(KEY), 'the key it names')
  const b = NodeAddress.parse(a.toString())
  t.ok(b.equals(a) && a.equals(b), 'parsed back, equal')
  t.is(b.toString(), a.toString(), 'prints the same')
  t.is(a.compare(b), 0)
  t.is(JSON.stringify({ a }), JSON.stringify({ a: a.toString() }), 'serializes as its string')
})

test('key addresses compare by key and system, and never equal a host:port one', (t) => {
  const a = NodeAddress.ofKey('app', KEY)
  const other = b4a.from(KEY)
  other[0] ^= 1
  const b = NodeAddress.ofKey('app', other)
  t.absent(a.equals(b), 'another key')
  t.absent(a.equals(NodeAddress.ofKey('web', KEY)), 'another system')
  t.ok(a.compare(b) !== 0 && Math.sign(a.compare(b)) === -Math.sign(b.compare(a)), 'ordered')
  const tcp = new NodeAddress('app', a.host, 1)
  t.absent(a.equals(tcp), 'not a host that happens to spell the key')
  t.ok(tcp.compare(a) < 0 && a.compare(tcp) > 0, 'host:port addresses sort first')
  t.absent(NodeAddress.parse('actor-cluster://app@127.0.0.1:2552').byKey)
})

test('bad key addresses are BAD_ADDRESS', (t) => {
  const good = NodeAddress.ofKey('app', KEY).host
  const bad = [
    `actor-cluster+hs://app@${good}:2552`,
    `actor-cluster+hs://app@${good.slice(0, 51)}`,
    `actor-cluster+hs://app@${good}y`,
    `actor-cluster+hs://app@${good.slice(0, 51)}0`,
    `actor-cluster+hs://app@${good.slice(0, 51)}9`,
    `actor-cluster+hs://app@${good.toUpperCase()}`,
    `actor-cluster+hs://@${good}`,
    'actor-cluster+hs://app@'
  ]
  for (const s of bad) t.exception(() => NodeAddress.parse(s), /BAD_ADDRESS/, s.slice(0, 40) + '...')
  t.exception(() => NodeAddress.ofKey('app', new Uint8Array(31)), /BAD_ADDRESS/, '31 bytes')
  t.exception(() => NodeAddress.ofKey('app', KEY).withPort(1), /BAD_ADDRESS/, 'no port to change')
  t.exception(() => new NodeAddress('app', good, 5, 'actor-cluster+hs'), /BAD_ADDRESS/, 'a port given')
})

test('actor refs on a key-named node: <address>/user/<name> parses and prints', async (t) => {
  const system = ActorSystem.create('app')
  t.teardown(() => system.terminate())
  const node = NodeAddress.ofKey('app', KEY)
  const ref = system.ref(`${node}/user/greeter`)
  t.ok(ref.node && ref.node.equals(node), 'the node')
  t.is(ref.path, `${node}/user/greeter`, 'its path names the node and the actor')
  t.ok(system.ref(ref.path).node.equals(node), 'and parses again')
})
