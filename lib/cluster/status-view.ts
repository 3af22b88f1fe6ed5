// A cluster's status as lines of text for a terminal of a given width: a header with this node
// and the leader, then one row per member with its status, reachability, roles, and this node's
// round-trip time, traffic, queue and drops for it. The leader's row is marked `*`.

import type { ClusterStatus, MemberStatusView } from './status.ts'

/** What `renderStatus()` takes. */
export interface StatusViewOptions {
  /**
   * Columns to fit; every line is at most this long (narrower drops the last columns).
   * @default 100
   */
  width?: number
  /**
   * The first line.
   * @default 'actor-cluster-bare status'
   */
  title?: string
  /** A short name for a member, shown before its address (none when this returns null). */
  name?: (member: MemberStatusView) => string | null
}

export const STATUS_VIEW_DEFAULTS = {
  width: 100,
  title: 'actor-cluster-bare status'
} as const

const MIN_WIDTH = 40
// Fixed columns after the member column: [heading, width].
const COLUMNS: [string, number][] = [
  ['STATUS', 8],
  ['REACH', 7],
  ['ROLES', 10],
  ['RTT', 9],
  ['IN', 9],
  ['OUT', 9],
  ['QUEUE', 7],
  ['DROPS', 6]
]

export function renderStatus(status: ClusterStatus, opts: StatusViewOptions = {}): string[] {
  const width = Math.max(MIN_WIDTH, Math.floor(opts.width ?? STATUS_VIEW_DEFAULTS.width))
  const name = opts.name ?? (() => null)
  const leader = status.members.find((m) => m.leader) ?? null
  const up = status.members.filter((m) => m.status === 'up').length
  const lines = [
    opts.title ?? STATUS_VIEW_DEFAULTS.title,
    `this node ${short(status.self)}${status.clientOnly ? ' (client)' : ''}${status.ready ? '' : ' (joining)'}`,
    `leader ${leader === null ? (status.leader === null ? 'none' : short(status.leader)) : label(leader, name)}  ·  ${status.members.length} members, ${up} up`,
    ''
  ]
  // What the fixed columns leave goes to the member column (narrow terminals drop columns).
  const labels = status.members.map((m) => 2 + label(m, name).length + (m.self ? 7 : 0) + 1)
  const wanted = Math.min(40, Math.max(18, ...labels))
  let columns = COLUMNS
  while (columns.length > 2 && width - columnsWidth(columns) < wanted) columns = columns.slice(0, -1)
  const memberWidth = Math.max(10, width - columnsWidth(columns))
  lines.push(row('  MEMBER', memberWidth, columns.map(([h]) => h), columns))
  for (const m of status.members) {
    const p = m.peer
    const cells = [
      m.status,
      m.reachable ? 'ok' : 'NO',
      m.roles.join(',') || '-',
      m.self ? '-' : p === null || p.rttMs === null ? '?' : `${p.rttMs < 10 ? p.rttMs.toFixed(1) : Math.round(p.rttMs)} ms`,
      p === null ? '-' : bytes(p.bytesIn),
      p === null ? '-' : bytes(p.bytesOut),
      p === null ? '-' : String(p.queuedFrames),
      p === null ? '-' : String(Object.values(p.drops).reduce((a: number, n) => a + (n ?? 0), 0))
    ]
    const mark = m.leader ? '* ' : '  '
    lines.push(row(mark + label(m, name) + (m.self ? ' (this)' : ''), memberWidth, cells, columns))
  }
  return lines.map((l) => fit(l, width))
}

function label(m: MemberStatusView, name: (m: MemberStatusView) => string | null): string {
  const n = name(m)
  return n === null ? short(m.address) : `${n} ${short(m.address)}`
}

// `actor-cluster://app@10.0.0.5:2552` -> `10.0.0.5:2552`: the system is the same for all.
function short(address: string): string {
  const at = address.lastIndexOf('@')
  return at === -1 ? address : address.slice(at + 1)
}

function row(first: string, firstWidth: number, cells: string[], columns: [string, number][]): string {
  let out = fit(first, firstWidth - 1).padEnd(firstWidth)
  for (let i = 0; i < columns.length; i++) out += fit(cells[i] ?? '', columns[i]![1] - 1).padEnd(columns[i]![1])
  return out.trimEnd()
}

function columnsWidth(columns: [string, number][]): number {
  return columns.reduce((a, [, w]) => a + w, 0)
}

function fit(s: string, width: number): string {
  return s.length <= width ? s : s.slice(0, Math.max(0, width - 1)) + '~'
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`
}
