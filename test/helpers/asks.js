// Asks that keep going while something else happens (a member's pause, a restart): one ask at a
// time to `ref`, each expecting its own number back, `gapMs` apart, at most `max` of them.
// `stop()` ends the loop and resolves to what happened: { ok, failed } (the error codes and wrong
// replies, in order).
export function keepAsking(ref, { timeoutMs = 2000, gapMs = 20, max = 10_000 } = {}) {
  const asks = { ok: 0, failed: [] }
  let asking = true
  const loop = (async () => {
    for (let i = 0; asking && i < max; i++) {
      await ref.ask(i, { timeoutMs }).then(
        (r) => (r === i ? asks.ok++ : asks.failed.push(`wrong reply ${r}`)),
        (e) => asks.failed.push(e.code)
      )
      await new Promise((resolve) => setTimeout(resolve, gapMs))
    }
  })()
  return {
    async stop() {
      asking = false
      await loop
      return asks
    }
  }
}
