// Loaded on Bare only, through the `#bare-natives` import condition.
import tcp from 'bare-tcp'
import tls from 'bare-tls'

export default { tcp, tls }
