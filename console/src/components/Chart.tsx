import { fmtNum } from '../format';
import type { Point } from '../metrics';

const W = 300;
const H = 64;
const PAD = 2;

/** A small inline SVG line chart of the last points; gaps where a point has no value. */
export function LineChart({
  title,
  unit,
  points,
  present,
  compact = false,
  testid,
}: {
  title: string;
  unit: string;
  points: Point[];
  present: boolean;
  compact?: boolean;
  testid: string;
}) {
  const vals = points.map((p) => p.v).filter((v): v is number => v !== null && isFinite(v));
  const last = [...points].reverse().find((p) => p.v !== null && isFinite(p.v as number));
  // The newest point: null when nothing happened between two scrapes (a latency without requests).
  const latest = points.length ? points[points.length - 1] : null;
  const max = Math.max(...vals, 0);
  const top = max > 0 ? max * 1.1 : 1;
  const n = Math.max(points.length, 2);
  const x = (i: number) => PAD + (i * (W - 2 * PAD)) / (n - 1);
  const y = (v: number) => H - PAD - (v / top) * (H - 2 * PAD);

  // Split into runs of consecutive values: a null point breaks the line.
  const paths: string[] = [];
  let cur = '';
  points.forEach((p, i) => {
    if (p.v === null || !isFinite(p.v)) {
      if (cur) paths.push(cur);
      cur = '';
      return;
    }
    cur += `${cur ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.v).toFixed(1)}`;
  });
  if (cur) paths.push(cur);
  const single = points.length > 0 && vals.length === 1 && last;

  const h = compact ? 40 : H;
  return (
    <figure class={compact ? 'chart chart-compact' : 'chart'} data-testid={testid} data-present={present ? '1' : '0'}>
      <figcaption>
        <span class="chart-title">{title}</span>
        <span class="chart-value" data-testid={`${testid}-value`}>
          {!present
            ? 'no data'
            : latest && latest.v !== null && isFinite(latest.v)
              ? `${fmtNum(latest.v)}${unit ? ' ' + unit : ''}`
              : latest
                ? 'idle'
                : '…'}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" width="100%" height={h} role="img" aria-label={title}>
        <line x1={0} y1={H - PAD} x2={W} y2={H - PAD} class="chart-axis" />
        {present ? (
          <>
            {paths.map((d, i) => (
              <path key={i} d={d} class="chart-line" vector-effect="non-scaling-stroke" />
            ))}
            {single && <circle cx={x(points.length - 1)} cy={y(last!.v as number)} r={2} class="chart-dot" />}
          </>
        ) : (
          <text x={W / 2} y={H / 2 + 4} text-anchor="middle" class="chart-nodata">
            no data
          </text>
        )}
      </svg>
      {!compact && present && <div class="chart-scale">max {fmtNum(max)}{unit ? ' ' + unit : ''} · last {points.length} samples</div>}
    </figure>
  );
}
