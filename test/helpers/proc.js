// Arguments and exit for scripts that run as child processes on any of the four runtimes.
export function args() {
  const g = globalThis
  if (g.Bare) return g.Bare.argv.slice(2)
  if (g.Deno) return g.Deno.args.slice()
  return g.process.argv.slice(2)
}

export function exit(code) {
  const g = globalThis
  if (g.Bare) g.Bare.exit(code)
  else if (g.Deno) g.Deno.exit(code)
  else g.process.exit(code)
}
