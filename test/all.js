import './backend-contract.test.js'
import './tcp-transport.test.js'
