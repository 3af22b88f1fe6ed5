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

// bun and deno put their binary in place in a postinstall step; should that not have run, the
// per-platform package it comes from is used directly.
function bunBinary() {
  return firstBinary([
    ['bun/package.json', 'bin/bun.exe'],
    [`@oven/bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}/package.json`, 'bin/bun']
  ])
}

function denoBinary() {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
  return firstBinary([
    ['deno/package.json', 'deno'],
    [`@deno/${process.platform}-${arch}-glibc/package.json`, 'deno'],
    [`@deno/${process.platform}-${arch}/package.json`, 'deno']
  ])
}

function firstBinary(candidates) {
  for (const [pkg, rel] of candidates) {
    let dir
    try {
      dir = path.dirname(require.resolve(pkg, { paths: [ROOT] }))
    } catch {
      continue
    }
    const file = path.join(dir, rel)
    if (fs.existsSync(file) && fs.statSync(file).size > 1024 * 1024) {
      ensureExecutable(file)
      return file
    }
  }
  throw new Error('runtime binary missing: ' + candidates.map((c) => c[0]).join(', '))
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
