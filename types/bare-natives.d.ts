// `#bare-natives` resolves to backends/bare-natives.js on Bare and to a module exporting null
// everywhere else (see "imports" in package.json), so no other runtime loads Bare's addons.
declare const natives: unknown
export default natives
