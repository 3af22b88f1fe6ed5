// Which public declarations lack a doc comment: every member of an exported interface whose
// name ends in Options, Settings or EventMap (options with an entry in the defaults object
// beside them also need @default); every class the main entry exports, with each of its public
// members (a member that implements a documented interface member counts: editors show that
// doc), and the classes named below from the other entries; and any `_underscored` member left
// public in an exported class or interface. Node only: it reads the .d.ts files with the
// TypeScript compiler.
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
  EntityTypeOptions: 'SHARDING_DEFAULTS',
  SwarmTransportOptions: 'SWARM_DEFAULTS'
}
// Classes from the other entries (testkit, gossipmonger) whose every public member is documented;
// every class of the main entry is checked anyway.
const CLASSES = ['ClusterTestKit', 'SwarmTransport']
// Main-entry classes left out of the check, each with the reason beside it.
const EXEMPT = []
// Interfaces other than options and events whose members are documented: what both transports
// implement, so their members show these docs too.
const INTERFACES = ['Transport', 'ObservableTransport', 'MessageStorage']

export function undocumented(pkgDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
  const entries = Object.values(pkg.exports)
    .map((e) => (typeof e === 'object' && e.types ? path.join(pkgDir, e.types) : null))
    .filter((e) => e !== null)
  const main = path.join(pkgDir, pkg.exports['.'].types)
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
        const isClass =
          ts.isClassDeclaration(decl) && !EXEMPT.includes(sym.name) && (entry === main || CLASSES.includes(sym.name))
        if (isOptions || isClass) wanted.push({ name: sym.name, sym, decl, where, isClass })
      }
    }
  }

  for (const { name, sym, decl, where, isClass } of wanted) {
    if (!hasDoc(decl)) missing.add(`${where}: ${name}`)
    const withDefault = defaults.get(DEFAULTS[name]) ?? new Set()
    for (const m of decl.members) {
      if (ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue
      if (ts.isClassStaticBlockDeclaration(m) || ts.isIndexSignatureDeclaration(m)) continue
      const member = ts.isConstructorDeclaration(m) ? 'constructor' : m.name.getText()
      if (!hasDoc(m) && !(isClass && inherited(checker, sym, m))) missing.add(`${where}: ${name}.${member}`)
      else if (name === 'ClusterError' && /^[A-Z_]+$/.test(member) && !hasTag(m, 'default')) {
        missing.add(`${where}: ClusterError.${member} (no @default for its message)`)
      }
      else if (!isClass && withDefault.has(member) && !ts.getJSDocTags(m).some((tag) => tag.tagName.text === 'default')) {
        missing.add(`${where}: ${name}.${member} (no @default)`)
      }
    }
  }
  return [...missing].sort()
}

// A class member with no doc of its own that implements or overrides a documented member of an
// interface or base class: the TypeScript services show that doc on hover.
function inherited(checker, classSym, m) {
  if (ts.isConstructorDeclaration(m) || !m.name) return false
  const isStatic = ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static
  const type = isStatic
    ? checker.getTypeOfSymbol(classSym)
    : checker.getDeclaredTypeOfSymbol(classSym)
  const prop = checker.getPropertyOfType(type, m.name.getText())
  return prop !== undefined && prop.getDocumentationComment(checker).length > 0
}

function hasTag(node, name) {
  return ts.getJSDocTags(node).some((tag) => tag.tagName.text === name)
}

function hasDoc(node) {
  return ts.getJSDocCommentsAndTags(node).some((d) => ts.isJSDoc(d) && (d.comment || d.tags?.some((tag) => tag.tagName.text !== 'internal')))
}
