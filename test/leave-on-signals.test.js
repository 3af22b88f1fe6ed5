// leaveOnSignals inside a Pear app: with a global `Pear`, the node leaves on Pear's teardown
// (the others see leaving, then removed) and no signal handler of its own is set. Real signals
// in real processes are in test/cross-runtime/signals.test.js.
import test from 'brittle'
import { ActorSystem, Cluster, InMemoryTransport, leaveOnSignals } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './helpers/transport.js'

const SEED = 'actor-cluster://pear@10.0.0.1:2552'
const APP = 'actor-cluster://pear@10.0.0.2:2552'

test('with a global Pear, leaveOnSignals leaves on Pear.teardown and sets no signal handler', async (t) => {
  t.absent('Pear' in globalThis, 'no Pear here before the stand-in')
  const teardowns = []
  globalThis.Pear = { teardown: (fn) => teardowns.push(fn) }
  t.teardown(() => delete globalThis.Pear)

  const bus = InMemoryTransport.newBus()
  const join = async (self) => {
    const system = ActorSystem.create('pear', { logLevel: 'silent' })
    const transport = new InMemoryTransport({ self, bus })
    await Cluster.join(system, { ...FAST_CLUSTER, transport, seeds: [SEED] })
    t.teardown(() => system.terminate({ leave: false }))
    return system
  }
  const seed = await join(SEED)
  const app = await join(APP)
  await app.cluster.ready({ timeoutMs: 10_000 })
  await until(() => seed.cluster.members().filter((m) => m.status === 'up').length === 2, 10_000, 'two up at the seed')

  const seen = []
  for (const e of ['member-leaving', 'member-unreachable', 'member-down', 'member-removed']) {
    seed.cluster.on(e, (m) => {
      if (m.address.equals(app.cluster.self)) seen.push(e)
    })
  }
  const proc = globalThis.process
  const listening = () => (typeof proc?.listenerCount === 'function' ? ['SIGINT', 'SIGTERM'].map((s) => proc.listenerCount(s)) : null)
  const before = listening()

  const remove = leaveOnSignals(app)
  t.is(typeof remove, 'function')
  t.is(teardowns.length, 1, 'one teardown handler registered with Pear')
  t.alike(listening(), before, 'no signal handler of its own')
  t.is(app.cluster.member(app.cluster.self)?.status, 'up', 'nothing happens before teardown')

  // Pear runs its teardown handlers when the app closes and waits for their promises.
  const leaving = teardowns[0]()
  t.ok(leaving instanceof Promise, 'the handler returns the leave for Pear to wait on')
  t.is(teardowns[0](), leaving, 'a second teardown call waits on the same leave')
  await leaving
  t.ok(app.terminated, 'the app system is terminated')
  await until(() => seen.includes('member-removed'), 10_000, 'the app removed at the seed')
  t.alike(seen, ['member-leaving', 'member-removed'], `seen: ${seen.join(', ')}`)
})
