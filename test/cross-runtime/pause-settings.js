// Settings shared by the pause test and its child: heartbeats every 100 ms, a member judged
// unreachable within about a second of silence, a node's own pause noticed when its timers run
// more than 300 ms late, and nobody downed for a minute (the cluster keeps a paused node).
export const PAUSE_CLUSTER = {
  gossipIntervalMs: 100,
  heartbeatIntervalMs: 100,
  downAfterMs: 60_000,
  failureDetector: { minStdDeviationMs: 50, acceptableHeartbeatPauseMs: 300 }
}

// How long the test stops the child: as long as the pause the membership rules are specified
// against.
export const PAUSE_MS = 7000
