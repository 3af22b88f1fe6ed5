// A strict reader of the Prometheus text exposition format (0.0.4): every line is a HELP, a TYPE
// or a sample; a family's HELP and TYPE come once, before its samples; names and label names are
// valid, label values properly escaped, values numbers. Throws on the first line that is not.
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/

export function parseExposition(text) {
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline')
  const families = new Map()
  const series = new Set()
  let current = null
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) throw new Error(`bad comment, ${where}`)
      const [, what, name, rest] = m
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`)
      let f = families.get(name)
      if (f === undefined) families.set(name, (f = { name, help: null, type: null, samples: [] }))
      else if (f.samples.length > 0) throw new Error(`HELP/TYPE after samples, ${where}`)
      if (what === 'HELP') {
        if (f.help !== null) throw new Error(`second HELP, ${where}`)
        f.help = rest
      } else {
        if (f.type !== null) throw new Error(`second TYPE, ${where}`)
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type, ${where}`)
        f.type = rest
      }
      current = f
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line)
    if (m === null) throw new Error(`bad sample, ${where}`)
    const [, name, , body, value] = m
    if (!VALUE.test(value)) throw new Error(`bad value, ${where}`)
    const labels = body === undefined ? {} : parseLabels(body, where)
    const f = families.get(name)
    if (f === undefined || f !== current) throw new Error(`sample outside its family, ${where}`)
    const key = name + JSON.stringify(Object.entries(labels).sort())
    if (series.has(key)) throw new Error(`duplicate series, ${where}`)
    series.add(key)
    f.samples.push({ labels, value: Number(value.replace('Inf', 'Infinity')) })
  }
  return families
}

function parseLabels(body, where) {
  const out = {}
  let i = 0
  while (i < body.length) {
    const eq = body.indexOf('=', i)
    if (eq === -1) throw new Error(`bad labels, ${where}`)
    const name = body.slice(i, eq)
    if (!LABEL.test(name) || name in out) throw new Error(`bad label name, ${where}`)
    if (body[eq + 1] !== '"') throw new Error(`unquoted label value, ${where}`)
    let j = eq + 2
    let value = ''
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === '\\') {
        const next = body[++j]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else throw new Error(`bad escape, ${where}`)
      } else value += body[j]
    }
    if (j >= body.length) throw new Error(`unterminated label value, ${where}`)
    out[name] = value
    i = j + 1
    if (i < body.length) {
      if (body[i] !== ',') throw new Error(`bad label separator, ${where}`)
      i++
    }
  }
  return out
}
