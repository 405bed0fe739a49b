import { useEffect, useState } from 'preact/hooks';
import { api, type ListFilter } from '../api';
import { AutoRefresh } from '../components/AutoRefresh';
import { MetricsCharts } from '../components/MetricsStrip';
import { Pager, TransTable } from '../components/TransTable';
import { countText } from '../format';
import { useLoader, useStoredFlag, useTick } from '../hooks';
import { useCursorPaging } from '../paging';
import { setHashQuery } from '../router';
import { STATUSES, TRANS_TYPES } from '../types';

const PAGE_SIZES = [20, 50, 100];

function toMs(local: string | null): number | undefined {
  if (!local) return undefined;
  const t = new Date(local).getTime();
  return isNaN(t) ? undefined : t;
}

export function TransactionsView({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const transType = query.get('transType') ?? '';
  const gidPrefix = query.get('gidPrefix') ?? '';
  const from = query.get('from') ?? '';
  const to = query.get('to') ?? '';
  const sizeQ = Number(query.get('size'));
  const size = PAGE_SIZES.includes(sizeQ) ? sizeQ : 20;

  const [auto, setAuto] = useStoredFlag('lynx-dtm-console.auto.list', true);
  const now = useTick(1000);
  const filterKey = JSON.stringify(['all', status, transType, gidPrefix, from, to, size]);
  const paging = useCursorPaging(filterKey);

  const filter: ListFilter = {
    status: status || undefined,
    transType: transType || undefined,
    gidPrefix: gidPrefix || undefined,
    createTimeStart: toMs(from),
    createTimeEnd: toMs(to),
  };
  const list = useLoader(() => api.all(filter, size, paging.pos), [filterKey, paging.pos], auto, 5000);
  const summary = useLoader(() => api.summary(), [], auto, 5000);

  const update = (patch: Record<string, string | undefined>) => {
    const cur = { status, transType, gidPrefix, from, to, size: size === 20 ? '' : String(size) };
    setHashQuery('/', { ...cur, ...patch });
  };

  // The gid prefix is applied 400 ms after typing stops (or at once on Enter).
  const [prefixInput, setPrefixInput] = useState(gidPrefix);
  useEffect(() => setPrefixInput(gidPrefix), [gidPrefix]);
  useEffect(() => {
    if (prefixInput === gidPrefix) return;
    const id = setTimeout(() => update({ gidPrefix: prefixInput.trim() }), 400);
    return () => clearTimeout(id);
  }, [prefixInput]);

  const reloadAll = () => {
    void list.reload();
    void summary.reload();
  };
  const s = summary.data;
  const rows = list.data?.transactions ?? (list.data ? [] : null);
  const nextPos = list.data?.next_position ?? '';
  const filtered = !!(status || transType || gidPrefix || from || to);

  return (
    <section class="view" data-testid="view-transactions">
      <div class="view-head">
        <h1>Transactions</h1>
        <AutoRefresh on={auto} set={setAuto} loading={list.loading} onRefresh={reloadAll} />
      </div>

      <div class="counters" data-testid="counters">
        {STATUSES.map((st) => (
          <button
            key={st}
            class={`counter c-${st}${status === st ? ' active' : ''}`}
            data-testid={`counter-${st}`}
            data-count={s?.counts?.[st] ?? ''}
            title={status === st ? 'Show all statuses' : `Show only ${st}`}
            onClick={() => update({ status: status === st ? '' : st })}
          >
            <span class="counter-n">{s ? countText(s.counts?.[st] ?? 0, s.count_cap) : '–'}</span>
            <span class="counter-l">{st}</span>
          </button>
        ))}
        <a class="counter c-overdue" href="#/overdue" data-testid="counter-overdue" data-count={s?.overdue ?? ''}>
          <span class="counter-n">{s ? countText(s.overdue ?? 0, s.count_cap) : '–'}</span>
          <span class="counter-l">overdue</span>
        </a>
        {summary.error && (
          <span class="muted small" data-testid="summary-error">
            counts unavailable: {summary.error}
          </span>
        )}
      </div>

      <MetricsCharts compact />

      <form class="filters" data-testid="filters" onSubmit={(e) => { e.preventDefault(); update({ gidPrefix: prefixInput.trim() }); }}>
        <label>
          Status
          <select data-testid="filter-status" value={status} onChange={(e) => update({ status: e.currentTarget.value })}>
            <option value="">any</option>
            {STATUSES.map((st) => (
              <option key={st} value={st}>
                {st}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select data-testid="filter-type" value={transType} onChange={(e) => update({ transType: e.currentTarget.value })}>
            <option value="">any</option>
            {TRANS_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          GID prefix
          <input
            type="text"
            data-testid="filter-gid"
            placeholder="gid starts with…"
            value={prefixInput}
            onInput={(e) => setPrefixInput(e.currentTarget.value)}
            spellcheck={false}
          />
        </label>
        <label>
          Created from
          <input type="datetime-local" step={1} data-testid="filter-from" value={from} onChange={(e) => update({ from: e.currentTarget.value })} />
        </label>
        <label>
          Created to
          <input type="datetime-local" step={1} data-testid="filter-to" value={to} onChange={(e) => update({ to: e.currentTarget.value })} />
        </label>
        {filtered && (
          <button type="button" class="btn btn-small btn-link" data-testid="filter-clear" onClick={() => setHashQuery('/', { size: size === 20 ? '' : String(size) })}>
            Clear filters
          </button>
        )}
      </form>

      <TransTable rows={rows} error={list.error} now={now} />
      <Pager
        page={paging.page}
        hasPrev={paging.hasPrev}
        hasNext={!!nextPos}
        onPrev={paging.prev}
        onNext={() => paging.next(nextPos)}
        pageSize={size}
        setPageSize={(n) => update({ size: n === 20 ? '' : String(n) })}
      />
    </section>
  );
}
