// Whether a timer keeps the process alive. Node, Bun, Deno 2 and Bare all hand back a timer
// object with ref() and unref(); anything else (a bare number) is left as it is.

export function refTimer(handle: TimerHandle, keepAlive: boolean): void {
  const t = handle as unknown as { ref?(): unknown; unref?(): unknown }
  if (typeof t !== 'object' || t === null) return
  if (keepAlive) t.ref?.()
  else t.unref?.()
}
