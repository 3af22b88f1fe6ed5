// Where each runtime's binary is. Processes are started from the binary itself, never through
// node_modules/.bin/bare (a Node wrapper whose death would leave Bare running).
'use strict'
const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..', '..')

function bareBinary() {
  const file = require(require.resolve('bare-runtime', { paths: [ROOT] }))()
  ensureExecutable(file)
  return file
}

function bunBinary() {
  const file = path.join(path.dirname(require.resolve('bun/package.json', { paths: [ROOT] })), 'bin', 'bun.exe')
  ensureExecutable(file)
  return file
}

function denoBinary() {
  const file = path.join(path.dirname(require.resolve('deno/package.json', { paths: [ROOT] })), 'deno')
  ensureExecutable(file)
  return file
}

// The command line that runs a JavaScript file on a runtime.
function commandFor(runtime, script, args = []) {
  switch (runtime) {
    case 'bare':
      return [bareBinary(), [script, ...args]]
    case 'node':
      return [process.execPath, [script, ...args]]
    case 'bun':
      return [bunBinary(), [script, ...args]]
    case 'deno':
      return [denoBinary(), ['run', '-A', '--quiet', script, ...args]]
    default:
      throw new Error('unknown runtime ' + runtime)
  }
}

function ensureExecutable(file) {
  if (!fs.existsSync(file)) throw new Error('runtime binary missing: ' + file)
  const mode = fs.statSync(file).mode
  if ((mode & 0o111) === 0) fs.chmodSync(file, mode | 0o755)
}

const RUNTIMES = ['bare', 'node', 'bun', 'deno']

module.exports = { ROOT, RUNTIMES, commandFor, bareBinary, bunBinary, denoBinary }
