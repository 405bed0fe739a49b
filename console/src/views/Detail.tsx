import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, errText } from '../api';
import { AutoRefresh } from '../components/AutoRefresh';
import { StatusBadge } from '../components/Badge';
import { ConfirmDialog } from '../components/Modal';
import { RelTime, Time } from '../components/Time';
import { Timeline } from '../components/Timeline';
import { prettyJsonText, traceId } from '../format';
import { useLoader, useStoredFlag, useTick } from '../hooks';
import { showError, showSuccess } from '../notify';
import { useIsAdmin } from '../session';
import type { Global } from '../types';

const FINISHED = new Set(['succeed', 'failed']);

async function loadDetail(gid: string) {
  const [q, attempts] = await Promise.all([api.query(gid), api.attempts(gid)]);
  return { trans: q.transaction, branches: q.branches ?? [], attempts };
}

function KV({ k, children, testid, cls }: { k: string; children: ComponentChildren; testid?: string; cls?: string }) {
  return (
    <div class={`kv ${cls ?? ''}`} data-testid={testid}>
      <dt>{k}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const yesNo = (b?: boolean) => (b === undefined ? '–' : b ? 'yes' : 'no');
const secs = (n?: number) => (n === undefined || n === null ? '–' : `${n} s`);

function Options({ g }: { g: Global }) {
  const headers = g.branch_headers ? Object.entries(g.branch_headers) : [];
  return (
    <div class="card" data-testid="options">
      <h2>Options</h2>
      <dl class="kv-grid">
        <KV k="timeout to fail">{secs(g.timeout_to_fail)}</KV>
        <KV k="retry interval">{secs(g.retry_interval)}</KV>
        <KV k="request timeout">{secs(g.request_timeout)}</KV>
        <KV k="wait result">{yesNo(g.wait_result)}</KV>
        <KV k="concurrent">{yesNo(g.concurrent)}</KV>
        <KV k="retry limit">{g.retry_limit ?? '–'}</KV>
        <KV k="retry count">{g.retry_count ?? '–'}</KV>
        <KV k="next cron interval">{secs(g.next_cron_interval)}</KV>
        <KV k="passthrough headers">{g.passthrough_headers?.length ? g.passthrough_headers.join(', ') : '–'}</KV>
      </dl>
      {headers.length > 0 && (
        <table class="table headers" data-testid="branch-headers">
          <thead>
            <tr>
              <th>Branch header</th>
              <th>Value</th>
            </tr>
          </thead>
          <tbody>
            {headers.map(([k, v]) => (
              <tr key={k}>
                <td class="mono">{k}</td>
                <td class="mono">{String(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function DetailView({ gid }: { gid: string }) {
  const [auto, setAuto] = useStoredFlag('lynx-dtm-console.auto.detail', true);
  const now = useTick(1000);
  const isAdmin = useIsAdmin();
  const d = useLoader(() => loadDetail(gid), [gid], auto, 5000);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  const g = d.data?.trans ?? null;
  const unfinished = !!g && !FINISHED.has(g.status ?? '');
  const trace = g ? traceId(g.ext_data) : null;

  const act = async (what: () => Promise<unknown>, ok: string) => {
    setBusy(true);
    try {
      await what();
      showSuccess(ok);
    } catch (e) {
      showError(errText(e));
    } finally {
      setBusy(false);
      setConfirming(false);
      await d.reload();
    }
  };

  return (
    <section class="view" data-testid="view-detail" data-gid={gid}>
      <div class="view-head">
        <div>
          <a href="#/" class="back">
            ← Transactions
          </a>
          <h1 class="mono gid-title" data-testid="detail-gid">
            {gid}
          </h1>
        </div>
        <AutoRefresh on={auto} set={setAuto} loading={d.loading} onRefresh={() => void d.reload()} />
      </div>

      {d.error && !d.data && (
        <div class="inline-error" data-testid="load-error">
          {d.error}
        </div>
      )}
      {!d.data && !d.error && <div class="muted">Loading…</div>}
      {d.data && !g && (
        <div class="card not-found" data-testid="not-found">
          Transaction <span class="mono">{gid}</span> not found.
        </div>
      )}

      {g && (
        <>
          <div class="card detail-head" data-testid="detail-head" data-status={g.status}>
            <div class="detail-title">
              <StatusBadge status={g.status} />
              <span class="pill" data-testid="detail-type">
                {g.trans_type ?? '?'}
              </span>
              <span class="pill">{g.protocol ?? '?'}</span>
              {isAdmin && unfinished && (
                <span class="actions" data-testid="actions">
                  <button class="btn" data-testid="retry-now" disabled={busy} onClick={() => act(() => api.retryNow(gid), 'Retry scheduled: the next cron pass calls the branches now.')}>
                    Retry now
                  </button>
                  <button class="btn btn-danger" data-testid="force-stop" disabled={busy} onClick={() => setConfirming(true)}>
                    Force stop
                  </button>
                </span>
              )}
              {!isAdmin && unfinished && (
                <span class="actions muted small" data-testid="read-only">
                  read-only: force stop and retry need the admin role
                </span>
              )}
            </div>
            {g.rollback_reason && (
              <div class="rollback-reason" data-testid="rollback-reason">
                <strong>Rollback reason:</strong> <span class="mono">{g.rollback_reason}</span>
              </div>
            )}
            <dl class="kv-grid">
              <KV k="created">
                <Time t={g.create_time} ms now={now} />
              </KV>
              <KV k="updated">
                <Time t={g.update_time} ms now={now} />
              </KV>
              <KV k="finished">
                <Time t={g.finish_time} ms now={now} />
              </KV>
              <KV k="rolled back">
                <Time t={g.rollback_time} ms now={now} />
              </KV>
              <KV k="next try" testid="detail-next-try">
                {unfinished ? <RelTime t={g.next_cron_time} now={now} /> : <span class="muted">–</span>}
              </KV>
              <KV k="owner">{g.owner ? <span class="mono">{g.owner}</span> : '–'}</KV>
              <KV k="result" testid="detail-result">
                {g.result ? <span class="mono">{g.result}</span> : '–'}
              </KV>
              <KV k="trace id" testid="trace-id">
                {trace ? <span class="mono">{trace}</span> : '–'}
              </KV>
              {g.query_prepared && (
                <KV k="query prepared" cls="wide">
                  <span class="mono">{g.query_prepared}</span>
                </KV>
              )}
              {g.custom_data && (
                <KV k="custom data" cls="wide">
                  <pre class="mono">{prettyJsonText(g.custom_data)}</pre>
                </KV>
              )}
            </dl>
          </div>
          <Options g={g} />
          <div class="card">
            <h2>Branches and attempts</h2>
            <Timeline branches={d.data!.branches} attempts={d.data!.attempts} now={now} trans={g} />
          </div>
        </>
      )}

      {confirming && (
        <ConfirmDialog
          title="Force stop this transaction?"
          confirmLabel="Force stop"
          danger
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={() => act(() => api.forceStop(gid), 'Transaction force-stopped.')}
        >
          <p>
            Force stop marks the transaction failed immediately. Compensations will NOT run; branches already done stay done.
          </p>
          <p class="mono small">{gid}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
