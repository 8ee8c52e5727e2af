/**
 * The longest delay a timer can wait. Runtimes fire a longer one (above
 * 2^31 − 1 ms, about 24.8 days, `Infinity` included) after 1 ms: an option
 * documented as "`Infinity`: none" must not reach `setTimeout` as it is.
 *
 * @module
 */

/** 2^31 − 1 ms, about 24.8 days. */
export const MAX_TIMER_MS: number = 2 ** 31 - 1;

/**
 * Whether a timer can wait `ms` (false for `Infinity` and anything past
 * {@link MAX_TIMER_MS}, which means: set no timer at all).
 *
 * @example
 * ```ts
 * import { timerCanWait } from "./timer.ts";
 * const ms = Infinity;
 * if (timerCanWait(ms)) setTimeout(() => console.log("bound passed"), ms);
 * ```
 */
export function timerCanWait(ms: number): boolean {
  return ms <= MAX_TIMER_MS;
}
