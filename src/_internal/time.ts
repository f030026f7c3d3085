/** @internal ISO-8601 strings of instants, shared when the same millisecond is formatted again. */

let lastMs = Number.NaN;
let lastIso = "";

/**
 * @internal `date.toISOString()`, remembering the last instant formatted: a burst of work in one
 * millisecond (a fan-out page, a run's log entries, its message timestamps) formats it once and
 * shares one string instead of holding a copy per record.
 */
export function isoString(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastMs) {
    lastIso = date.toISOString();
    lastMs = ms;
  }
  return lastIso;
}
