import { localTime, parseTime, relative } from '../format';

/** Local time with the relative time beside it ("3 s ago", "in 12 s"). */
export function Time({ t, ms = false, now }: { t?: string | null; ms?: boolean; now?: number }) {
  const d = parseTime(t);
  if (!d) return <span class="muted">–</span>;
  return (
    <span class="time" title={d.toISOString()}>
      {localTime(d, ms)} <span class="rel">({relative(d, now)})</span>
    </span>
  );
}

/** Only the relative part, with the local time as a tooltip. */
export function RelTime({ t, now, testid }: { t?: string | null; now?: number; testid?: string }) {
  const d = parseTime(t);
  if (!d) return <span class="muted">–</span>;
  const past = d.getTime() < (now ?? Date.now());
  return (
    <span class={past ? 'rel-past' : 'rel-future'} title={localTime(d, true)} data-testid={testid}>
      {relative(d, now)}
    </span>
  );
}
