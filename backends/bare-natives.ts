// Loaded on Bare only, through the `#bare-natives` import condition.
import tcp from 'bare-tcp'
import tls from 'bare-tls'
import crypto from 'bare-crypto'
import hrtime from 'bare-hrtime'

export default { tcp, tls, crypto, hrtime }
