// What `#bare-natives` resolves to on every runtime but Bare.
export default null
