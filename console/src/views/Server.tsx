import { useRef } from 'preact/hooks';
import { api } from '../api';
import { MetricsCharts } from '../components/MetricsStrip';
import { Time } from '../components/Time';
import { uptime } from '../format';
import { useLoader, useTick } from '../hooks';

function ConfigTree({ value, depth = 0 }: { value: unknown; depth?: number }) {
  if (value === null || value === undefined) return <span class="muted">null</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">[]</span>;
    if (value.every((v) => v === null || typeof v !== 'object'))
      return <span class="cfg-v">{value.map((v) => JSON.stringify(v)).join(', ')}</span>;
    return (
      <ul class="cfg">
        {value.map((v, i) => (
          <li key={i}>
            <span class="cfg-k">[{i}]</span> <ConfigTree value={v} depth={depth + 1} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return <span class="muted">{'{}'}</span>;
    return (
      <ul class="cfg">
        {entries.map(([k, v]) => (
          <li key={k} data-testid="config-entry" data-key={k}>
            <span class="cfg-k">{k}</span>
            {v !== null && typeof v === 'object' && !(Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) ? (
              <ConfigTree value={v} depth={depth + 1} />
            ) : (
              <>
                : <ConfigTree value={v} depth={depth + 1} />
              </>
            )}
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'string') return <span class="cfg-v cfg-s">{value === '' ? '""' : value}</span>;
  return <span class="cfg-v">{String(value)}</span>;
}

export function ServerView() {
  const now = useTick(1000);
  const fetchedAt = useRef(Date.now());
  const s = useLoader(async () => {
    const r = await api.server();
    fetchedAt.current = Date.now();
    return r;
  }, []);
  const info = s.data;
  // The uptime goes on between reloads.
  const up = info?.uptime_seconds !== undefined ? info.uptime_seconds + Math.max(0, (now - fetchedAt.current) / 1000) : undefined;
  return (
    <section class="view" data-testid="view-server">
      <div class="view-head">
        <h1>Server</h1>
        <button class="btn btn-small" data-testid="refresh" onClick={() => void s.reload()} disabled={s.loading}>
          {s.loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {s.error && (
        <div class="inline-error" data-testid="load-error">
          {s.error}
        </div>
      )}
      {info && (
        <div class="card">
          <dl class="kv-grid" data-testid="server-info">
            <div class="kv">
              <dt>version</dt>
              <dd class="mono" data-testid="server-version">{info.version ?? '–'}</dd>
            </div>
            <div class="kv">
              <dt>instance</dt>
              <dd class="mono" data-testid="server-instance">{info.instance ?? '–'}</dd>
            </div>
            <div class="kv">
              <dt>store</dt>
              <dd data-testid="server-store">{info.store ?? '–'}</dd>
            </div>
            <div class="kv">
              <dt>started at</dt>
              <dd>
                <Time t={info.started_at} now={now} />
              </dd>
            </div>
            <div class="kv">
              <dt>uptime</dt>
              <dd data-testid="server-uptime">{up !== undefined ? uptime(up) : '–'}</dd>
            </div>
            <div class="kv">
              <dt>authentication</dt>
              <dd data-testid="server-auth">
                {info.auth_enabled ? 'enabled' : 'disabled'} · your role: <strong data-testid="server-role">{info.role ?? '–'}</strong>
              </dd>
            </div>
          </dl>
        </div>
      )}
      <div class="card">
        <h2>Metrics</h2>
        <MetricsCharts />
      </div>
      {info?.config !== undefined && (
        <div class="card">
          <h2>Effective configuration</h2>
          <div class="config-tree mono" data-testid="config-tree">
            <ConfigTree value={info.config} />
          </div>
        </div>
      )}
    </section>
  );
}
