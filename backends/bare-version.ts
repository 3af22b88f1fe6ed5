// Bare-only, imported first by bare-natives.ts: on a Bare older than the dependencies need, the
// user hears which Bare to install before a dependency's engine check stops the load with only
// a version range.
import { ClusterError } from '../lib/errors.ts'

/**
 * Lowest Bare the dependencies run on: bare-type 1.3 and later (reached through bare-crypto,
 * bare-assert and bare-inspect) is an addon built for Bare 1.32.
 */
export const MIN_BARE_VERSION = '1.32.0'

// The newest runtime published as a platform package; the `bare` package itself brings 1.31.
const RUNTIME_PACKAGE_VERSION = '1.33.4'

/** Why this Bare cannot run the package, naming the fix; null when it can. */
export function bareVersionProblem(version: string, platform: string, arch: string): string | null {
  if (compareVersions(version, MIN_BARE_VERSION) >= 0) return null
  const pkg = `bare-runtime-${platform}-${arch}`
  return (
    `Bare ${version.replace(/^v/, '')} is too old: actor-cluster-bare needs Bare ` +
    `${MIN_BARE_VERSION} or newer (bare-type, under bare-crypto, is built for it). ` +
    `The bare package on npm brings 1.31; install a newer runtime with ` +
    `\`npm i -g ${pkg}@${RUNTIME_PACKAGE_VERSION}\`, or in a project add ` +
    `"overrides": { "${pkg}": "${RUNTIME_PACKAGE_VERSION}" } to package.json and reinstall`
  )
}

const bare = (globalThis as { Bare?: { version: string; platform: string; arch: string } }).Bare
if (bare !== undefined) {
  const problem = bareVersionProblem(bare.version, bare.platform, bare.arch)
  if (problem !== null) throw ClusterError.UNSUPPORTED_RUNTIME(problem)
}

// Compares dotted versions numerically, ignoring a leading `v` and any pre-release tail.
function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.-]/)
  const pb = b.replace(/^v/, '').split(/[.-]/)
  for (let i = 0; i < 3; i++) {
    const d = (parseInt(pa[i] ?? '0', 10) || 0) - (parseInt(pb[i] ?? '0', 10) || 0)
    if (d !== 0) return d
  }
  return 0
}
