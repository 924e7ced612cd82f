/**
 * Now and then pump 1 cavitates for a while, so the deployed model opens
 * episodes for users to resolve. The first fault comes one interval after
 * start; each lasts `durationS` (shorter than the interval, so faults never
 * overlap). stop() clears the timer; a fault under way ends by itself.
 */
export function scheduleFaults(p: { everyS: number; durationS: number; inject(durationMs: number): void; say(line: string): void }): { stop(): void } {
  const timer = setInterval(() => {
    p.inject(p.durationS * 1000);
    p.say(`fault injected: pump 1 cavitates for ${p.durationS} s (flow and pressure drop, vibration rises); the next in ${p.everyS} s`);
  }, p.everyS * 1000);
  return { stop: () => clearInterval(timer) };
}
