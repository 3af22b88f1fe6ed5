// pear-chat: run as a Pear app (`pear run .`) or with Bare (`bare index.js`).
//
//   bare index.js --name ada [--topic my-room] [--say "hello"]
//   bare index.js --name bob --topic my-room --bootstrap 127.0.0.1:49737 --host 127.0.0.1
//
// Two laptops on different networks that run it with the same --topic form one cluster:
// hyperswarm finds them through the DHT and punches through their NATs. --bootstrap and --host
// point it at a local testnet instead (see testnet.js). Each peer posts its --say line every few
// seconds; Ctrl-C (or closing the Pear app) leaves the room cleanly.
import { startPeer } from './chat.js'

const argv = globalThis.Pear ? Pear.config.args : globalThis.Bare ? Bare.argv.slice(2) : process.argv.slice(2)
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? fallback : argv[i + 1]
}

const peer = await startPeer({
  name: opt('name', 'anon'),
  topic: opt('topic', 'pear-chat-demo-room'),
  bootstrap: opt('bootstrap', null)?.split(','),
  host: opt('host', undefined)
})
const say = opt('say', 'hi from ' + peer.name)
const timer = setInterval(() => {
  if (peer.others().length > 0) peer.post(say)
}, 3000)

if (globalThis.Pear) {
  // Pear closes the app after its teardown handlers: the others see this peer leave, not vanish.
  Pear.teardown(async () => {
    clearInterval(timer)
    await peer.leave()
  })
} else {
  // Ctrl-C leaves the room, then the process exits.
  const { leaveOnSignals } = await import('actor-cluster-bare')
  leaveOnSignals(peer.cluster)
}
