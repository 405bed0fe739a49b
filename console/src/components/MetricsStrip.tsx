import { SERIES, useMetrics } from '../metrics';
import { LineChart } from './Chart';

/** The five console charts, polled every 2 s; compact on the transactions view. */
export function MetricsCharts({ compact = false }: { compact?: boolean }) {
  const m = useMetrics();
  return (
    <div class={compact ? 'charts charts-compact' : 'charts'} data-testid="charts">
      {SERIES.map((s) => (
        <LineChart
          key={s.key}
          testid={`chart-${s.key}`}
          title={s.title}
          unit={s.unit}
          points={m.series[s.key]}
          present={m.present[s.key]}
          compact={compact}
        />
      ))}
      {m.error && !compact && (
        <div class="muted small" data-testid="metrics-error">
          metrics: {m.error}
        </div>
      )}
    </div>
  );
}
