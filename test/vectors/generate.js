// Writes test/vectors/frames.json: the frame of every sample message, in hex. Run it only when
// the wire format changes on purpose (and bump WIRE_VERSION); the tests compare against the
// committed file and never regenerate it.
import fs from 'node:fs'
import { encodeFrame } from 'actor-cluster-bare'
import { samples, toJSON, hex } from '../helpers/wire-samples.js'

const vectors = samples().map(([name, msg]) => ({ name, message: toJSON(msg), frame: hex(encodeFrame(msg)) }))
fs.writeFileSync(new URL('./frames.json', import.meta.url), JSON.stringify(vectors, null, 2) + '\n')
console.log(`wrote ${vectors.length} vectors`)
