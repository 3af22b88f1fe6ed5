// Ctrl-C as a goodbye: on SIGINT or SIGTERM the node leaves the cluster (the others see it
// `leaving`, then `removed`, never unreachable), its actor system terminates, and the process
// exits. A second signal while leaving exits at once. In a Pear app, Pear's teardown does it.

import { exitProcess, onSignals, pearTeardown, type SignalName } from '../../backends/signals.ts'
import { silentLogger, type Logger } from '../logger.ts'
import type { Cluster } from './cluster.ts'

/** What `leaveOnSignals()` takes. */
export interface LeaveOnSignalsOptions {
  /**
   * Signals that make the node leave.
   * @default ['SIGINT', 'SIGTERM']
   */
  signals?: SignalName[]
  /**
   * Exit the process (with 0) once the node has left.
   * @default true
   */
  exit?: boolean
  /**
   * Where "SIGINT: leaving the cluster" is said, at info.
   * @default silentLogger
   */
  log?: Logger
}

// An actor system (terminate leaves its cluster) or a cluster.
export type Leaver = Cluster | { terminate(): Promise<void>; readonly cluster: Cluster | null }

export const LEAVE_ON_SIGNALS_DEFAULTS = {
  signals: ['SIGINT', 'SIGTERM'] as SignalName[],
  exit: true
}

/**
 * Leaves the cluster and terminates the system on SIGINT/SIGTERM (in Pear: on teardown), then
 * exits. Returns a function that removes the handlers; they also go once the node stops.
 */
export function leaveOnSignals(target: Leaver, opts: LeaveOnSignalsOptions = {}): () => void {
  const log = opts.log ?? silentLogger
  const exit = opts.exit ?? LEAVE_ON_SIGNALS_DEFAULTS.exit
  const cluster = 'terminate' in target ? target.cluster : target
  const leave = () => ('terminate' in target ? target.terminate() : target.leave())
  // Leaving to exit: a script still awaiting ready() (the signal came before the node was up)
  // waits on while the process ends, instead of getting TRANSPORT_CLOSED as the node stops.
  const leaveToExit = () => {
    cluster?._abandonReady()
    return leave()
  }
  let leaving: Promise<void> | null = null
  let remove = () => {}
  if (pearTeardown(() => (leaving ??= leaveToExit()))) return remove
  remove = onSignals(opts.signals ?? LEAVE_ON_SIGNALS_DEFAULTS.signals, (signal) => {
    if (leaving !== null) {
      // Asked twice: the person wants out now.
      if (exit) exitProcess(130)
      return
    }
    log.info(`${signal}: leaving the cluster`)
    leaving = (exit ? leaveToExit() : leave()).then(
      () => {
        remove()
        if (exit) exitProcess(0)
      },
      (err) => {
        log.error(`leaving on ${signal} failed`, err)
        remove()
        if (exit) exitProcess(1)
      }
    )
  }, (err) => log.error('cannot listen for signals here (on Bare, install bare-signals)', err))
  // Stopped some other way: the handlers go with it, so they hold nothing up.
  cluster?.once('stopped', () => {
    if (leaving === null) remove()
  })
  return remove
}
