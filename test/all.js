import './backend-contract.test.js'
import './tcp-transport.test.js'
import './wire-codec.test.js'
import './wire-fuzz.test.js'
