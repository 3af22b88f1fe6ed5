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

// Reads a text file on any runtime.
export async function readText(file) {
  if (typeof globalThis.Bare !== 'undefined') {
    const { default: fs } = await import('bare-fs')
    return fs.readFileSync(file, 'utf8')
  }
  const fs = await import('node:fs')
  return fs.readFileSync(file, 'utf8')
}

// TLS settings from a folder holding ca.pem, cert.pem and key.pem, or null for no folder.
export async function tlsFrom(dir) {
  if (!dir || dir === '-') return null
  return {
    ca: await readText(dir + '/ca.pem'),
    cert: await readText(dir + '/cert.pem'),
    key: await readText(dir + '/key.pem')
  }
}
