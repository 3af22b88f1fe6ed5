// A DHT testnet on this machine, for trying pear-chat with no internet:
//
//   bare testnet.js           prints the --bootstrap to give each peer, runs until Ctrl-C
//   bare testnet.js --demo    also starts three peers here (they find each other on the topic,
//                             with no seeds), lets each post once, and has them leave
import createTestnet from 'hyperdht/testnet.js'
import { startPeer } from './chat.js'

const argv = globalThis.Bare ? Bare.argv.slice(2) : process.argv.slice(2)
const net = await createTestnet(3, { host: '127.0.0.1' })
const bootstrap = net.bootstrap.map((b) => `${b.host}:${b.port}`)
console.log(`testnet up: --bootstrap ${bootstrap.join(',')} --host 127.0.0.1`)

if (argv.includes('--demo')) {
  const topic = 'pear-chat-local-demo'
  const started = Date.now()
  const peers = await Promise.all(['ada', 'bob', 'cyd'].map((name) => startPeer({ name, topic, bootstrap, host: '127.0.0.1' })))
  while (peers.some((p) => p.others().length < 2)) {
    if (Date.now() - started > 15000) throw new Error('the three peers did not meet within 15 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  console.log(`all three met in ${Date.now() - started} ms`)
  let seen = 0
  for (const p of peers) seen += await p.post(`hello from ${p.name}`)
  await Promise.all(peers.map((p) => p.leave()))
  await net.destroy()
  console.log(seen === 6 ? 'every post seen by both others' : `only ${seen} of 6 posts seen`)
  if (seen !== 6 && globalThis.Bare) Bare.exitCode = 1
  else if (seen !== 6) process.exitCode = 1
}
