// Loaded on Bare only, through the `#bare-natives` import condition. The version check comes
// first so that it runs before any of these loads a dependency built for a newer Bare.
import './bare-version.ts'
import tcp from 'bare-tcp'
import tls from 'bare-tls'
import crypto from 'bare-crypto'
import hrtime from 'bare-hrtime'
import signals from 'bare-signals'

export default { tcp, tls, crypto, hrtime, signals }
