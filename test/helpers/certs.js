// Throwaway certificates, made at test time with the openssl command line: a CA and a node
// certificate it signed (for localhost and 127.0.0.1, usable as server and client), and a second,
// unrelated CA with a certificate of its own. Works on Bare, Node, Bun and Deno.

const SCRIPT = `
set -e
ext='subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth'
printf '%s\\n' "$ext" > node.ext
for who in ca other-ca; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 2 \\
    -subj "/CN=$who" -keyout $who.key -out $who.crt 2>/dev/null
done
for pair in node:ca other:other-ca; do
  name=\${pair%%:*}; ca=\${pair#*:}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \\
    -subj "/CN=localhost" -keyout $name.key -out $name.csr 2>/dev/null
  openssl x509 -req -in $name.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial -sha256 -days 2 \\
    -extfile node.ext -out $name.crt 2>/dev/null
done
`

let cached = null

export async function makeCerts() {
  if (cached) return cached
  const io = typeof globalThis.Bare !== 'undefined' ? await bareIo() : await nodeIo()
  const dir = io.mkdtemp()
  try {
    io.sh(SCRIPT, dir)
    const read = (f) => io.read(dir + '/' + f)
    cached = {
      ca: read('ca.crt'),
      cert: read('node.crt'),
      key: read('node.key'),
      otherCa: read('other-ca.crt'),
      otherCert: read('other.crt'),
      otherKey: read('other.key')
    }
    return cached
  } finally {
    io.rm(dir)
  }
}

async function nodeIo() {
  const { execFileSync } = await import('node:child_process')
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  return {
    mkdtemp: () => fs.mkdtempSync(path.join(os.tmpdir(), 'acb-certs-')),
    sh: (script, cwd) => execFileSync('sh', ['-c', script], { cwd, stdio: 'ignore' }),
    read: (file) => fs.readFileSync(file, 'utf8'),
    rm: (dir) => fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function bareIo() {
  const { default: subprocess } = await import('bare-subprocess')
  const { default: fs } = await import('bare-fs')
  const { default: os } = await import('bare-os')
  return {
    mkdtemp: () => fs.mkdtempSync(os.tmpdir() + '/acb-certs-'),
    sh(script, cwd) {
      const res = subprocess.spawnSync('sh', ['-c', script], { cwd })
      if (res.status !== 0) throw new Error('openssl failed: ' + String(res.stderr))
    },
    read: (file) => fs.readFileSync(file, 'utf8'),
    rm: (dir) => fs.rmSync(dir, { recursive: true, force: true })
  }
}
