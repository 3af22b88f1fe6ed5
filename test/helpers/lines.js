// Calls `online` with each complete line a child process writes to `stream`.
export function onLines(stream, online) {
  let partial = ''
  stream.on('data', (d) => {
    partial += d
    let i
    while ((i = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      online(line)
    }
  })
}
