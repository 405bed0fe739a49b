import { api, errText } from '../api';
import { OutcomeBadge } from '../components/Badge';
import { AutoRefresh } from '../components/AutoRefresh';
import { Pager, TransTable } from '../components/TransTable';
import { useLoader, useStoredFlag, useTick } from '../hooks';
import { useCursorPaging } from '../paging';
import { setHashQuery } from '../router';
import type { Attempt, Global } from '../types';

const PAGE_SIZES = [20, 50, 100];

interface AttemptInfo {
  count: number;
  last: Attempt | null;
  error?: string;
}

interface OverduePage {
  rows: Global[];
  next: string;
  attempts: Record<string, AttemptInfo>;
}

async function loadPage(size: number, pos: string): Promise<OverduePage> {
  const r = await api.all({ overdue: true }, size, pos);
  const rows = r.transactions ?? [];
  const attempts: Record<string, AttemptInfo> = {};
  // One /attempts call per shown row (at most a page's worth), in parallel.
  await Promise.all(
    rows.map(async (g) => {
      try {
        const a = await api.attempts(g.gid);
        attempts[g.gid] = { count: a.length, last: a.length ? a[a.length - 1] : null };
      } catch (e) {
        attempts[g.gid] = { count: 0, last: null, error: errText(e) };
      }
    }),
  );
  return { rows, next: r.next_position ?? '', attempts };
}

export function OverdueView({ query }: { query: URLSearchParams }) {
  const sizeQ = Number(query.get('size'));
  const size = PAGE_SIZES.includes(sizeQ) ? sizeQ : 20;
  const [auto, setAuto] = useStoredFlag('lynx-dtm-console.auto.overdue', true);
  const now = useTick(1000);
  const key = JSON.stringify(['overdue', size]);
  const paging = useCursorPaging(key);
  const page = useLoader(() => loadPage(size, paging.pos), [key, paging.pos], auto, 5000);
  const info = page.data?.attempts ?? {};

  return (
    <section class="view" data-testid="view-overdue">
      <div class="view-head">
        <h1>Overdue</h1>
        <AutoRefresh on={auto} set={setAuto} loading={page.loading} onRefresh={() => void page.reload()} />
      </div>
      <p class="explain" data-testid="overdue-explain">
        Unfinished transactions whose next retry time has passed: the cron has not picked them up yet.
      </p>
      <TransTable
        rows={page.data ? page.data.rows : null}
        error={page.error}
        now={now}
        empty="No overdue transactions."
        extra={[
          {
            title: 'Attempts',
            cell: (g) => (
              <span class="num" data-testid="attempt-count">
                {info[g.gid] ? info[g.gid].count : '…'}
              </span>
            ),
          },
          {
            title: 'Last attempt',
            cell: (g) => {
              const a = info[g.gid];
              if (!a) return <span class="muted">…</span>;
              if (a.error) return <span class="muted">{a.error}</span>;
              if (!a.last) return <span class="muted">none</span>;
              return (
                <span class="last-attempt" data-testid="last-attempt">
                  <OutcomeBadge outcome={a.last.outcome} />
                  {a.last.code ? <span class="code">{a.last.code}</span> : null}
                  <span class="mono detail-short" title={a.last.detail}>
                    {a.last.detail || ''}
                  </span>
                </span>
              );
            },
          },
        ]}
      />
      <Pager
        page={paging.page}
        hasPrev={paging.hasPrev}
        hasNext={!!page.data?.next}
        onPrev={paging.prev}
        onNext={() => paging.next(page.data?.next ?? '')}
        pageSize={size}
        setPageSize={(n) => setHashQuery('/overdue', { size: n === 20 ? '' : String(n) })}
      />
    </section>
  );
}
