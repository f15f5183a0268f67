/**
 * Rate and ETA, as a pure function of counts and time, so a progress bar and
 * a status line agree and tests need no clock.
 */

export interface Rate {
  rowsPerSecond: number;
  /** Null until there is a rate to extrapolate from. */
  etaSeconds: number | null;
}

/**
 * `doneThisRun` rows took `elapsedMs`; `remaining` are left. The rate is this
 * run's, not the checkpoint's: a resumed backfill says how fast it goes now.
 */
export function rateOf(doneThisRun: number, elapsedMs: number, remaining: number): Rate {
  if (doneThisRun <= 0 || elapsedMs <= 0) return { rowsPerSecond: 0, etaSeconds: remaining <= 0 ? 0 : null };
  const rowsPerSecond = (doneThisRun * 1000) / elapsedMs;
  return { rowsPerSecond, etaSeconds: Math.max(0, remaining) / rowsPerSecond };
}
