import test from 'brittle'
import { fuzz } from './wire-fuzz.js'

test('fuzz: 3,000 random and mutated inputs give only ClusterErrors, memory bounded', (t) => {
  const stats = fuzz(3000, 20261123)
  t.is(stats.cases, 3000)
  t.ok(Object.keys(stats.errors).length > 0, `errors seen: ${JSON.stringify(stats.errors)}`)
  t.ok(stats.messages > 0, `${stats.messages} messages decoded among the mutations`)
})
