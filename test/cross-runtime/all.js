import './backends.test.js'
import './package.test.js'
import './mesh.test.js'
import './cluster.test.js'
