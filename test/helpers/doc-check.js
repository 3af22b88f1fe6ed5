// Which public declarations lack a doc comment: every member of an exported interface whose
// name ends in Options, Settings or EventMap (options with an entry in the defaults object
// beside them also need @default), and every public member of the main classes; and any
// `_underscored` member left public in an exported class or interface. Node only:
// it reads the .d.ts files with the TypeScript compiler.
import fs from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

// Interfaces whose members are options or events, and the defaults object each options type has.
const DOCUMENTED = /(Options|Settings|EventMap)$|^Supervision$/
const DEFAULTS = {
  ClusterOptions: 'CLUSTER_DEFAULTS',
  ActorSystemOptions: 'ACTOR_SYSTEM_DEFAULTS',
  MailboxOptions: 'MAILBOX_DEFAULTS',
  PhiAccrualOptions: 'PHI_DEFAULTS',
  Supervision: 'SUPERVISION_DEFAULTS',
  TcpTransportOptions: 'TCP_DEFAULTS',
  ShardingOptions: 'SHARDING_DEFAULTS',
  EntityTypeOptions: 'SHARDING_DEFAULTS'
}
// Classes whose every public member is documented.
const CLASSES = ['Cluster', 'ActorSystem', 'ActorRef', 'Channel', 'NodeAddress', 'ClusterTestKit', 'Terminated', 'Serialization', 'Sharding', 'MemoryMessageStorage']
// Interfaces other than options and events whose members are documented: what both transports
// implement, so their members show these docs too.
const INTERFACES = ['Transport', 'ObservableTransport', 'MessageStorage']

export function undocumented(pkgDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
  const entries = Object.values(pkg.exports)
    .map((e) => (typeof e === 'object' && e.types ? path.join(pkgDir, e.types) : null))
    .filter((e) => e !== null)
  const program = ts.createProgram(entries, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true })
  const checker = program.getTypeChecker()
  const missing = new Set()
  const defaults = new Map()
  const wanted = []

  for (const entry of entries) {
    const mod = checker.getSymbolAtLocation(program.getSourceFile(entry))
    for (let sym of checker.getExportsOfModule(mod)) {
      if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym)
      for (const decl of sym.declarations ?? []) {
        const where = path.relative(pkgDir, decl.getSourceFile().fileName)
        if (ts.isVariableDeclaration(decl) && Object.values(DEFAULTS).includes(sym.name)) {
          defaults.set(sym.name, new Set(checker.getTypeAtLocation(decl).getProperties().map((p) => p.name)))
        }
        if (ts.isInterfaceDeclaration(decl) || ts.isClassDeclaration(decl)) {
          for (const m of decl.members) {
            const hidden = ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
            if (!hidden && m.name && m.name.getText().startsWith('_')) missing.add(`${where}: ${sym.name}.${m.name.getText()} (internal, not @internal)`)
          }
        }
        const isOptions = ts.isInterfaceDeclaration(decl) && (DOCUMENTED.test(sym.name) || INTERFACES.includes(sym.name))
        const isClass = ts.isClassDeclaration(decl) && CLASSES.includes(sym.name)
        if (isOptions || isClass) wanted.push({ name: sym.name, decl, where, isClass })
      }
    }
  }

  for (const { name, decl, where, isClass } of wanted) {
    if (!hasDoc(decl)) missing.add(`${where}: ${name}`)
    const withDefault = defaults.get(DEFAULTS[name]) ?? new Set()
    for (const m of decl.members) {
      if (ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue
      const member = ts.isConstructorDeclaration(m) ? 'constructor' : m.name.getText()
      if (!hasDoc(m)) missing.add(`${where}: ${name}.${member}`)
      else if (!isClass && withDefault.has(member) && !ts.getJSDocTags(m).some((tag) => tag.tagName.text === 'default')) {
        missing.add(`${where}: ${name}.${member} (no @default)`)
      }
    }
  }
  return [...missing].sort()
}

function hasDoc(node) {
  return ts.getJSDocCommentsAndTags(node).some((d) => ts.isJSDoc(d) && (d.comment || d.tags?.some((tag) => tag.tagName.text !== 'internal')))
}
