// The actor core on one node: spawn, tell, ask, behaviors sync and async, supervision, mailboxes,
// death watch, dead letters, and the message format.
import test from 'brittle'
import b4a from 'b4a'
import { ActorSystem, ActorRef, Terminated, Serialization, VALUE_LIMITS } from 'actor-cluster-bare'
import { until } from './helpers/transport.js'
import { mulberry32 } from './helpers/random.js'

function system(t, opts = {}) {
  const s = ActorSystem.create('local', { logLevel: 'silent', ...opts })
  t.teardown(() => s.terminate())
  return s
}

test('tell reaches a function behavior in order; ask gets the reply', async (t) => {
  const s = system(t)
  const seen = []
  const ref = s.spawn('counter', (msg, ctx) => {
    if (msg === 'count?') ctx.reply(seen.length)
    else seen.push(msg)
  })
  for (let i = 0; i < 100; i++) ref.tell(i)
  t.is(await ref.ask('count?'), 100)
  t.alike(seen, Array.from({ length: 100 }, (_, i) => i), 'in order')
  t.is(ref.path, 'actor-cluster://local/user/counter')
  t.ok(ref.isLocal)
})

test('an object behavior keeps `this`, runs started before the first message and stopped at the end', async (t) => {
  const s = system(t)
  const log = []
  class Account {
    constructor() {
      this.balance = 0
    }
    started() {
      log.push('started')
      this.balance = 10
    }
    receive(msg, ctx) {
      this.balance += msg.deposit
      ctx.reply(this.balance)
    }
    stopped() {
      log.push('stopped')
    }
  }
  const ref = s.spawn('account', new Account())
  t.is(await ref.ask({ deposit: 5 }), 15)
  s.stop(ref)
  t.alike(log, ['started', 'stopped'])
})

test('async behaviors handle one message at a time', async (t) => {
  const s = system(t)
  let inside = 0
  let most = 0
  const ref = s.spawn('slow', async (msg, ctx) => {
    inside++
    most = Math.max(most, inside)
    await new Promise((resolve) => setTimeout(resolve, 2))
    inside--
    if (msg === 'last') ctx.reply('done')
  })
  for (let i = 0; i < 20; i++) ref.tell(i)
  t.is(await ref.ask('last'), 'done')
  t.is(most, 1, 'never two at once')
})

test('ask to an actor that never answers rejects with ASK_TIMEOUT', async (t) => {
  const s = system(t)
  const ref = s.spawn('mute', () => {})
  await t.exception(ref.ask('hello?', { timeoutMs: 50 }), /ASK_TIMEOUT/)
  t.is(s.stats().asksPending, 0, 'the ask is forgotten')
})

test('asks time out each at its own deadline, whatever order their timeouts come in; answered ones never', async (t) => {
  const s = system(t)
  const mute = s.spawn('mute', () => {})
  const echo = s.spawn('echo', (m, ctx) => ctx.reply(m))
  const { monotonicNow } = await import('actor-cluster-bare')
  const start = monotonicNow()
  const order = []
  const timed = (name, timeoutMs) =>
    mute.ask(name, { timeoutMs }).then(
      () => t.fail(`${name} answered`),
      (err) => {
        const waited = monotonicNow() - start
        order.push(name)
        t.is(err.code, 'ASK_TIMEOUT', `${name}: ${err.message}`)
        t.ok(waited >= timeoutMs - 1, `${name} waited ${waited.toFixed(0)} ms of ${timeoutMs}`)
        t.ok(err.message.includes(`${timeoutMs} ms`), `${name} names its timeout`)
      }
    )
  const all = [timed('long', 300), timed('short', 60)]
  t.is(await echo.ask('answered', { timeoutMs: 30 }), 'answered')
  all.push(timed('middle', 150), timed('short too', 60))
  await Promise.all(all)
  t.alike(order, ['short', 'short too', 'middle', 'long'])
  t.is(s.stats().asksPending, 0, 'nothing left pending')
  // A later ask still times out: the timer is armed again after it went quiet.
  await t.exception(mute.ask('again', { timeoutMs: 20 }), /ASK_TIMEOUT/)
})

test('a ref kept across an actor stopping reaches dead letters, then the new actor at its path', async (t) => {
  const s = system(t)
  const letters = []
  s.on('dead-letter', (l) => letters.push(l.reason))
  const got = []
  const first = s.spawn('worker', (m) => got.push(['first', m]))
  const kept = s.ref('/user/worker')
  kept.tell(1)
  await until(() => got.length === 1, 2000, 'first delivery')
  s.stop(first)
  await until(() => s.stats().actors === 0, 2000, 'stopped')
  kept.tell(2)
  first.tell(3)
  t.alike(letters, ['no-recipient', 'no-recipient'], 'nobody there: dead letters')
  s.spawn('worker', (m) => got.push(['second', m]))
  kept.tell(4)
  first.tell(5)
  await until(() => got.length === 3, 2000, 'second deliveries')
  t.alike(got, [['first', 1], ['second', 4], ['second', 5]])
})

test('ask to nobody rejects at once with NO_RECIPIENT, and the message is a dead letter', async (t) => {
  const s = system(t)
  const letters = []
  s.on('dead-letter', (l) => letters.push(l))
  const started = Date.now()
  await t.exception(s.ref('/user/nobody').ask('hi', { timeoutMs: 5000 }), /NO_RECIPIENT/)
  t.ok(Date.now() - started < 4000, 'without waiting for the timeout')
  s.ref('/user/nobody').tell('plain')
  t.is(letters.length, 2)
  t.is(letters[1].message, 'plain')
  t.is(letters[1].reason, 'no-recipient')
  t.is(letters[1].recipient, 'actor-cluster://local/user/nobody')
  t.is(s.stats().deadLettersByReason['no-recipient'], 2)
})

test('a failing behavior is restarted (started runs again), the failure is logged, the system carries on', async (t) => {
  const logged = []
  const s = system(t, { log: recordingLog(logged) })
  let starts = 0
  const ref = s.spawn('flaky', {
    started() {
      starts++
      this.n = 0
    },
    receive(msg, ctx) {
      if (msg === 'boom') throw new Error('boom')
      this.n++
      ctx.reply(this.n)
    }
  })
  t.is(await ref.ask('x'), 1)
  t.is(await ref.ask('x'), 2)
  await t.exception(ref.ask('boom'), /ACTOR_FAILED/, 'the ask that made it fail learns of it')
  t.is(await ref.ask('x'), 1, 'state was reset by the restart')
  t.is(starts, 2)
  t.is(s.stats().restarts, 1)
  t.ok(logged.some((l) => l.level === 'error' && l.msg.includes('/user/flaky failed')), 'logged')
})

test('an async behavior that rejects, even with null, fails like one that throws', async (t) => {
  const s = system(t)
  const ref = s.spawn('async-fail', async (msg, ctx) => {
    await null
    if (msg === 'null') return Promise.reject(null)
    ctx.reply('fine')
  })
  await t.exception(ref.ask('null'), /ACTOR_FAILED/)
  t.is(s.stats().failures, 1)
  t.is(await ref.ask('again'), 'fine', 'restarted and going on')
})

test('supervision: resume keeps state, stop stops, and too many restarts stop the actor', async (t) => {
  const s = system(t)
  let n = 0
  const resumer = s.spawn('resumer', (msg, ctx) => {
    if (msg === 'boom') throw new Error('boom')
    ctx.reply(++n)
  }, { supervision: 'resume' })
  await resumer.ask('x')
  resumer.tell('boom')
  t.is(await resumer.ask('x'), 2, 'state kept')

  const stopper = s.spawn('stopper', () => {
    throw new Error('boom')
  }, { supervision: 'stop' })
  stopper.tell('x')
  await until(() => s.cell('/user/stopper') === null, 1000, 'stopper stopped')
  t.pass('stop strategy stops')

  const looper = s.spawn('looper', () => {
    throw new Error('boom')
  }, { supervision: { strategy: 'restart', maxRestarts: 3, withinMs: 60_000 } })
  for (let i = 0; i < 10; i++) looper.tell(i)
  await until(() => s.cell('/user/looper') === null, 1000, 'looper stopped')
  t.is(s.stats().deadLettersByReason.stopped, 6, 'what was left in its mailbox went to dead letters')
})

test('a mailbox flood stays within its bound; overflow is counted as dead letters', async (t) => {
  const s = system(t)
  let handled = 0
  const ref = s.spawn('small', () => {
    handled++
  }, { mailbox: { capacity: 100 } })
  for (let i = 0; i < 10_000; i++) ref.tell(i)
  t.is(s.cell('/user/small').mailboxLength, 100, 'never more than the capacity queued')
  await until(() => handled === 100, 1000, 'the queued ones handled')
  t.is(s.stats().deadLettersByReason['mailbox-full'], 9_900)

  const kept = []
  const oldest = s.spawn('drop-oldest', (m) => kept.push(m), { mailbox: { capacity: 10, overflow: 'drop-oldest' } })
  for (let i = 0; i < 50; i++) oldest.tell(i)
  await until(() => kept.length === 10, 1000, 'handled')
  t.alike(kept, [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], 'the newest ten were kept')
})

test('death watch: a watcher gets Terminated when the actor stops, and at once for an actor that does not exist', async (t) => {
  const s = system(t)
  const got = []
  const target = s.spawn('target', () => {})
  s.spawn('watcher', (msg, ctx) => {
    if (msg instanceof Terminated) got.push(`${msg.ref.name}:${msg.reason}`)
    else ctx.watch(msg)
  }).tell(target)
  const watcher = s.ref('/user/watcher')
  watcher.tell(s.ref('/user/ghost'))
  await until(() => got.length === 1, 1000, 'ghost terminated')
  s.stop(target)
  await until(() => got.length === 2, 1000, 'target terminated')
  t.alike(got, ['ghost:no-such-actor', 'target:stopped'])
})

test('actors messaging each other without end do not starve timers', async (t) => {
  const s = system(t)
  let timerFired = false
  let exchanged = 0
  const LIMIT = 2_000_000 // a bound for the test; the timer should fire long before
  const bounce = (msg, ctx) => {
    exchanged++
    if (!timerFired && exchanged < LIMIT) msg.tell(ctx.self, ctx.self)
  }
  const a = s.spawn('ping', bounce)
  const b = s.spawn('pong', bounce)
  await new Promise((resolve) => {
    setTimeout(() => {
      timerFired = true
      resolve()
    }, 5)
    a.tell(b)
  })
  t.ok(exchanged < LIMIT, `the timer ran while the actors were busy (${exchanged} messages by then)`)
})

test('become swaps the behavior for the next messages', async (t) => {
  const s = system(t)
  const ref = s.spawn('door', (msg, ctx) => {
    if (msg === 'open') {
      ctx.become((m, c) => c.reply(m === 'close' ? 'closed' : 'it is open'))
      ctx.reply('opened')
    } else ctx.reply('it is shut')
  })
  t.is(await ref.ask('knock'), 'it is shut')
  t.is(await ref.ask('open'), 'opened')
  t.is(await ref.ask('knock'), 'it is open')
})

test('children: spawned under their parent, stopped with it', async (t) => {
  const s = system(t)
  const parent = s.spawn('parent', (msg, ctx) => {
    ctx.reply(ctx.spawn(msg, (m, c) => c.reply('child ' + m)))
  })
  const child = await parent.ask('kid')
  t.ok(child instanceof ActorRef)
  t.is(child.path, 'actor-cluster://local/user/parent/kid')
  t.is(await child.ask('hi'), 'child hi')
  s.stop(parent)
  t.is(s.cell('/user/parent/kid'), null, 'the child stopped with its parent')
  await t.exception(child.ask('hi'), /NO_RECIPIENT/)
})

test('names: taken names and bad names are refused', async (t) => {
  const s = system(t)
  s.spawn('a', () => {})
  t.exception(() => s.spawn('a', () => {}), /NAME_TAKEN/)
  t.exception(() => s.spawn('a/b', () => {}), /BAD_PATH/)
  t.exception(() => s.spawn('', () => {}), /BAD_PATH/)
  t.exception(() => s.ref('/system/x'), /BAD_PATH/)
  t.exception(() => s.spawn('x', 42), /BAD_OPTIONS/)
  t.ok(s.spawn(null, () => {}).name.startsWith('$'), 'a generated name')
})

test('after terminate, tells are dead letters and asks reject with SYSTEM_STOPPED', async (t) => {
  const s = ActorSystem.create('local', { logLevel: 'silent' })
  const ref = s.spawn('a', () => {})
  const pending = ref.ask('x', { timeoutMs: 5000 })
  await s.terminate()
  await t.exception(pending, /SYSTEM_STOPPED/)
  await t.exception(ref.ask('x'), /SYSTEM_STOPPED/)
  ref.tell('late')
  t.is(s.stats().deadLettersByReason['system-stopped'], 1)
  t.exception(() => s.spawn('b', () => {}), /SYSTEM_STOPPED/)
})

test('the message format round-trips JSON-shaped data, bytes, bigint, Map, Set, Date and refs', async (t) => {
  const s = system(t)
  const ref = s.spawn('x', () => {})
  const value = {
    n: [0, 1, -1, 127, 128, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0, NaN, Infinity],
    s: ['', 'ascii', 'ünïcødé ✓', 'x'.repeat(1000)],
    b: [true, false, null, undefined],
    bytes: b4a.from([0, 1, 2, 255]),
    big: [0n, 1n, -1n, 2n ** 64n, -(2n ** 100n) + 7n],
    map: new Map([['k', 1], [2, new Set([1, 'two'])]]),
    date: new Date(1_700_000_000_000),
    ref,
    nested: { a: { b: { c: [{ d: 1 }] } } },
    ['__proto__']: { polluted: true }
  }
  const out = s.serialization.roundTrip(value)
  t.alike(out.n.slice(0, 9), value.n.slice(0, 9))
  t.ok(Object.is(out.n[8], -0), '-0 kept')
  t.ok(Number.isNaN(out.n[9]))
  t.is(out.n[10], Infinity)
  t.alike(out.s, value.s)
  t.alike(out.b, value.b)
  t.alike([...out.bytes], [0, 1, 2, 255])
  t.alike(out.big, value.big)
  t.ok(out.map instanceof Map && out.map.get(2) instanceof Set && out.map.get(2).has('two'))
  t.is(out.date.getTime(), value.date.getTime())
  t.ok(out.ref instanceof ActorRef && out.ref.equals(ref), 'a ref comes back as a working ref')
  t.alike(out.nested, value.nested)
  t.is({}.polluted, undefined, 'no prototype pollution')
  t.is(Object.getPrototypeOf(out), Object.prototype)
})

test('the value format is byte for byte what docs/wire.md says', async (t) => {
  const s = system(t)
  const bytes = (v) => [...s.serialization.serialize(v).body]
  t.is(s.serialization.serialize(1).manifest, '', 'the default manifest is empty')
  t.alike(bytes(null), [0])
  t.alike(bytes(undefined), [1])
  t.alike(bytes(false), [2])
  t.alike(bytes(true), [3])
  t.alike(bytes(5), [4, 5])
  t.alike(bytes(300), [4, 0xfd, 0x2c, 0x01])
  t.alike(bytes(-1), [5, 0])
  t.alike(bytes(1.5), [6, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f])
  t.alike(bytes('hi'), [7, 2, 0x68, 0x69])
  t.alike(bytes(b4a.from([1, 2])), [8, 2, 1, 2])
  t.alike(bytes(0n), [9, 0, 0])
  t.alike(bytes(256n), [9, 0, 2, 1, 0])
  t.alike(bytes(-1n), [9, 1, 1, 1])
  t.alike(bytes([1]), [10, 1, 4, 1])
  t.alike(bytes({ a: 1 }), [11, 1, 1, 0x61, 4, 1])
  t.alike(bytes(new Map([[1, 2]])), [12, 1, 4, 1, 4, 2])
  t.alike(bytes(new Set([true])), [13, 1, 3])
  t.alike(bytes(new Date(0)), [14, 0, 0, 0, 0, 0, 0, 0, 0])
  const ref = s.spawn('r', () => {})
  t.alike(bytes(ref), [15, ref.path.length, ...b4a.from(ref.path)])
})

test('values that cannot cross the wire are refused with NOT_SERIALIZABLE; serializeLocalMessages catches them locally', async (t) => {
  const s = system(t, { serializeLocalMessages: true })
  class Point {
    constructor(x, y) {
      this.x = x
      this.y = y
    }
  }
  const cyclic = {}
  cyclic.self = cyclic
  for (const bad of [() => 1, Symbol('x'), new Point(1, 2), cyclic, { deep: nest(VALUE_LIMITS.maxDepth + 1) }]) {
    t.exception(() => s.serialization.serialize(bad), /NOT_SERIALIZABLE/)
  }
  const ref = s.spawn('p', (m, ctx) => ctx.reply(m))
  t.exception(() => ref.tell(new Point(1, 2)), /NOT_SERIALIZABLE/, 'a local tell fails as a remote one would')
  await t.exception(ref.ask({ fn: () => 1 }), /NOT_SERIALIZABLE/)

  s.registerSerializer({
    manifest: 'geo.Point',
    type: Point,
    encode: (p) => b4a.from(JSON.stringify([p.x, p.y])),
    decode: (b) => new Point(...JSON.parse(b4a.toString(b)))
  })
  const back = await ref.ask(new Point(3, 4))
  t.ok(back instanceof Point, 'a registered class comes back as itself')
  t.alike([back.x, back.y], [3, 4])
  const nested = await ref.ask({ points: [new Point(5, 6)] })
  t.ok(nested.points[0] instanceof Point, 'also nested in plain data')
  t.is(s.serialization.serialize(new Point(1, 1)).manifest, 'geo.Point')
  t.exception(() => s.registerSerializer({ manifest: 'geo.Point', type: Point, encode() {}, decode() {} }), /BAD_OPTIONS/)
})

test('the decoder refuses hostile bytes with BAD_MESSAGE or UNKNOWN_MANIFEST, and nothing else', async (t) => {
  const s = system(t)
  const ser = new Serialization({ pathOf: () => null, refOf: (p) => s.ref(p) })
  const good = ser.serialize({ list: [1, 'two', new Map([[3n, new Date(0)]])], b: b4a.alloc(20) }).body
  const rand = mulberry32(7)
  const codes = {}
  for (let i = 0; i < 3000; i++) {
    const bytes = b4a.from(good)
    for (let j = 0; j < 1 + Math.floor(rand() * 4); j++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256)
    const cut = rand() < 0.3 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes
    try {
      ser.deserialize('', cut)
    } catch (err) {
      codes[err.code] = (codes[err.code] ?? 0) + 1
      if (err.code === undefined) throw err
    }
  }
  t.comment(JSON.stringify(codes))
  const expected = ['BAD_MESSAGE', 'UNKNOWN_MANIFEST', 'BAD_PATH', 'BAD_ADDRESS']
  t.alike(Object.keys(codes).filter((c) => !expected.includes(c)), [], 'only ClusterErrors about the message')
  // Nesting beyond the limit, and a count bigger than the bytes.
  const deep = b4a.alloc(200, 10) // 200 arrays, each of count 10...
  t.exception(() => ser.deserialize('', deep), /BAD_MESSAGE/)
  t.exception(() => ser.deserialize('', b4a.from([10, 0xfe, 0xff, 0xff, 0xff, 0x0f])), /BAD_MESSAGE/)
  t.exception(() => ser.deserialize('nope', b4a.alloc(1)), /UNKNOWN_MANIFEST/)
})

function nest(depth) {
  let v = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

function recordingLog(out) {
  const at = (level) => (msg, ...rest) => out.push({ level, msg, rest })
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

test('askCallSites: false leaves the stack to the library and still names the actor and timeout', async (t) => {
  const { ActorSystem: AS } = await import('actor-cluster-bare')
  const fast = AS.create('no-sites', { logLevel: 'silent', askCallSites: false })
  const slow = AS.create('sites', { logLevel: 'silent' })
  t.teardown(() => Promise.all([fast.terminate(), slow.terminate()]))
  const a = await fast.ref('/user/nobody').ask('hi', { timeoutMs: 1000 }).catch((e) => e)
  const b = await slow.ref('/user/nobody').ask('hi', { timeoutMs: 1000 }).catch((e) => e)
  t.is(a.code, 'NO_RECIPIENT')
  t.ok(a.message.includes('/user/nobody') && a.message.includes('1000 ms'), a.message)
  t.absent(/actors\.test\.js/.test(a.stack.split('\n').slice(0, 2).join('\n')), 'no call site captured')
  t.ok(/actors\.test\.js/.test(b.stack.split('\n')[1]), 'captured by default')
})
