// Metric families and their Prometheus text exposition (version 0.0.4), which `cluster.metrics()`
// returns for the user to serve at `/metrics`. Each layer builds its families with the helpers
// here (cluster-metrics.ts, actor-metrics.ts, sharding-metrics.ts); the layers above the cluster
// add theirs through `cluster.addMetrics(source)`.

export const METRICS_PREFIX = 'actor_cluster_'
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface MetricSample {
  labels?: Record<string, string>
  value: number
}

export interface MetricFamily {
  /** Without the `actor_cluster_` prefix; counters end in `_total`. */
  name: string
  help: string
  type: 'counter' | 'gauge'
  samples: MetricSample[]
}

export type MetricsSource = () => MetricFamily[]

/** The text exposition: `# HELP`, `# TYPE`, then one line per sample. */
export function formatMetrics(families: MetricFamily[]): string {
  let out = ''
  const seen = new Set<string>()
  for (const f of families) {
    const name = METRICS_PREFIX + f.name
    if (seen.has(name)) continue
    seen.add(name)
    out += `# HELP ${name} ${escape(f.help)}\n# TYPE ${name} ${f.type}\n`
    for (const s of f.samples) out += `${name}${labels(s.labels)} ${number(s.value)}\n`
  }
  return out
}

export function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ value }] }
}

export function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'gauge', samples: [{ value }] }
}

/** A counter with one sample per key of `values`, labelled `label="<key>"`. */
export function counterBy(name: string, help: string, label: string, values: Partial<Record<string, number>>): MetricFamily {
  return { name, help, type: 'counter', samples: Object.entries(values).map(([key, value]) => ({ labels: { [label]: key }, value: value ?? 0 })) }
}

function labels(l: Record<string, string> | undefined): string {
  if (l === undefined) return ''
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escape(v).replace(/"/g, '\\"')}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

// Backslashes and line feeds, as help text and label values both write them.
function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}
