// A small Prometheus text-format parser and a shared sampler that polls ../api/metrics
// every 2 s and keeps the last 60 points of the console's derived series.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      let lm: RegExpExecArray | null;
      while ((lm = LABEL.exec(m[2])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const value = parseValue(m[3]);
    if (!isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** Sum of every series of a metric; null when the metric is absent. */
export function sumMetric(samples: Sample[], name: string): number | null {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name === name) {
      found = true;
      sum += s.value;
    }
  }
  return found ? sum : null;
}

export type SeriesKey = 'throughput' | 'apiLatency' | 'transLatency' | 'inFlight' | 'cronLag';

export interface SeriesDef {
  key: SeriesKey;
  title: string;
  unit: string;
}

export const SERIES: SeriesDef[] = [
  { key: 'throughput', title: 'transactions finished/s', unit: '/s' },
  { key: 'apiLatency', title: 'API latency', unit: 'ms' },
  { key: 'transLatency', title: 'transaction latency', unit: 'ms' },
  { key: 'inFlight', title: 'in flight', unit: '' },
  { key: 'cronLag', title: 'cron lag', unit: 's' },
];

export interface Point {
  t: number;
  v: number | null;
}

export interface MetricsState {
  series: Record<SeriesKey, Point[]>;
  /** false when the metric is missing from the last scrape: drawn as "no data". */
  present: Record<SeriesKey, boolean>;
  error: string | null;
}

const MAX_POINTS = 60;
const INTERVAL_MS = 2000;

interface Raw {
  t: number;
  processed: number | null;
  apiSum: number | null;
  apiCount: number | null;
  trSum: number | null;
  trCount: number | null;
}

function emptySeries(): Record<SeriesKey, Point[]> {
  return { throughput: [], apiLatency: [], transLatency: [], inFlight: [], cronLag: [] };
}

let state: MetricsState = {
  series: emptySeries(),
  present: { throughput: false, apiLatency: false, transLatency: false, inFlight: false, cronLag: false },
  error: null,
};
let prev: Raw | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;
let busy = false;
const listeners = new Set<(s: MetricsState) => void>();

function ratio(dSum: number | null, dCount: number | null): number | null {
  if (dSum === null || dCount === null || dCount <= 0 || dSum < 0) return null;
  return (dSum / dCount) * 1000;
}

function delta(a: number | null, b: number | null | undefined): number | null {
  if (a === null || b === null || b === undefined) return null;
  const d = a - b;
  return d < 0 ? null : d; // a counter reset (restart) gives no point
}

function push(series: Point[], p: Point): Point[] {
  const next = series.concat(p);
  return next.length > MAX_POINTS ? next.slice(next.length - MAX_POINTS) : next;
}

async function scrape(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    const samples = parsePrometheus(await api.metrics());
    const t = Date.now();
    const raw: Raw = {
      t,
      processed: sumMetric(samples, 'dtm_transaction_process_total'),
      apiSum: sumMetric(samples, 'dtm_server_response_duration_sum'),
      apiCount: sumMetric(samples, 'dtm_server_response_duration_count'),
      trSum: sumMetric(samples, 'dtm_transaction_handled_duration_sum'),
      trCount: sumMetric(samples, 'dtm_transaction_handled_duration_count'),
    };
    const inFlight = sumMetric(samples, 'dtmd_transactions_in_flight');
    const cronLag = sumMetric(samples, 'dtmd_cron_lag_seconds');
    const series = { ...state.series };
    if (prev) {
      const dt = (t - prev.t) / 1000;
      const dProc = delta(raw.processed, prev.processed);
      series.throughput = push(series.throughput, { t, v: dProc === null || dt <= 0 ? null : dProc / dt });
      series.apiLatency = push(series.apiLatency, {
        t,
        v: ratio(delta(raw.apiSum, prev.apiSum), delta(raw.apiCount, prev.apiCount)),
      });
      series.transLatency = push(series.transLatency, {
        t,
        v: ratio(delta(raw.trSum, prev.trSum), delta(raw.trCount, prev.trCount)),
      });
    }
    series.inFlight = push(series.inFlight, { t, v: inFlight });
    series.cronLag = push(series.cronLag, { t, v: cronLag });
    prev = raw;
    state = {
      series,
      present: {
        throughput: raw.processed !== null,
        apiLatency: raw.apiSum !== null && raw.apiCount !== null,
        transLatency: raw.trSum !== null && raw.trCount !== null,
        inFlight: inFlight !== null,
        cronLag: cronLag !== null,
      },
      error: null,
    };
  } catch (e) {
    state = { ...state, error: e instanceof Error ? e.message : String(e) };
  } finally {
    busy = false;
  }
  listeners.forEach((fn) => fn(state));
}

let generation = 0;

function loop(gen: number): void {
  timer = setTimeout(async () => {
    await scrape();
    if (gen === generation && listeners.size > 0) loop(gen);
  }, INTERVAL_MS);
}

/** The derived series; polling runs while at least one component uses this hook. */
export function useMetrics(): MetricsState {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    if (timer === null) {
      void scrape();
      loop(++generation);
    }
    return () => {
      listeners.delete(setS);
      if (listeners.size === 0 && timer !== null) {
        clearTimeout(timer);
        timer = null;
        generation++;
      }
    };
  }, []);
  return s;
}
