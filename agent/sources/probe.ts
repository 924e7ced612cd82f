/**
 * Result of `vigil check --connect` for one tag: the configuration dry-run
 * against the live server or broker, without starting the agent.
 */
export interface TagProbeResult {
  tag: string;
  source: string;
  /** `ok`: resolved and readable / traffic seen; `warn`: works but something is off (e.g. no traffic yet); `fail`: cannot work as written. */
  status: 'ok' | 'warn' | 'fail';
  /** One line for the table, e.g. `Double, value 42.1` or `BadNodeIdUnknown: no such node`. */
  detail: string;
}
