import './backends.test.js'
import './package.test.js'
