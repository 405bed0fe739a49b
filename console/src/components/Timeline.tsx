import { decodePayload } from '../format';
import type { Attempt, Branch } from '../types';
import { OutcomeBadge, StatusBadge } from './Badge';
import { Time } from './Time';

const OP_RANK: Record<string, number> = { try: 0, action: 1, msg: 1, confirm: 2, commit: 2, cancel: 3, compensate: 4, rollback: 4 };

interface OpEntry {
  op: string;
  branch: Branch | null;
  attempts: Attempt[];
}

interface Group {
  branchId: string;
  ops: OpEntry[];
}

export const TX_LEVEL = '00';

/** Branches grouped by branch_id, each op with every attempt made for it. */
export function groupTimeline(branches: Branch[], attempts: Attempt[]): Group[] {
  const groups = new Map<string, Map<string, OpEntry>>();
  const entry = (bid: string, op: string) => {
    let g = groups.get(bid);
    if (!g) groups.set(bid, (g = new Map()));
    let e = g.get(op);
    if (!e) g.set(op, (e = { op, branch: null, attempts: [] }));
    return e;
  };
  for (const b of branches) entry(b.branch_id, b.op).branch = b;
  for (const a of attempts) entry(a.branch_id, a.op).attempts.push(a);
  const out: Group[] = [];
  for (const [branchId, ops] of groups) {
    const list = [...ops.values()].sort((a, b) => {
      const ra = OP_RANK[a.op] ?? 5;
      const rb = OP_RANK[b.op] ?? 5;
      if (ra !== rb) return ra - rb;
      return (a.branch?.id ?? 1e15) - (b.branch?.id ?? 1e15) || a.op.localeCompare(b.op);
    });
    for (const e of list) e.attempts.sort((a, b) => a.id - b.id);
    out.push({ branchId, ops: list });
  }
  // Transaction-level calls (branch_id 00) come first; then branches in id order.
  return out.sort((a, b) => (a.branchId === TX_LEVEL ? -1 : b.branchId === TX_LEVEL ? 1 : a.branchId.localeCompare(b.branchId, undefined, { numeric: true })));
}

function Payload({ b64, open }: { b64?: string; open: boolean }) {
  const p = decodePayload(b64);
  if (p.kind === 'empty') return <div class="muted small">no payload</div>;
  const label = p.kind === 'json' ? `JSON, ${p.bytes} bytes` : p.kind === 'text' ? `text, ${p.bytes} bytes` : `protobuf/binary, ${p.bytes} bytes`;
  return (
    <details class="payload" open={open && p.bytes <= 2048} data-testid="payload" data-kind={p.kind}>
      <summary>payload · {label}</summary>
      <pre class="mono" data-testid="payload-text">{p.text}</pre>
    </details>
  );
}

function Detail({ text }: { text?: string }) {
  if (!text) return <span class="muted">–</span>;
  const long = text.length > 160 || text.includes('\n');
  if (!long)
    return (
      <code class="mono attempt-detail" data-testid="attempt-detail">
        {text}
      </code>
    );
  return (
    <details class="attempt-detail-long">
      <summary class="mono" data-testid="attempt-detail">
        {text.slice(0, 120).replace(/\n/g, ' ')}…
      </summary>
      <pre class="mono">{text}</pre>
    </details>
  );
}

interface TransInfo {
  trans_type?: string;
  query_prepared?: string;
}

/** Transaction-level calls: a msg's back-check (query_prepared) or a workflow's resume. */
function opLabel(branchId: string, op: string, target: string | undefined, t: TransInfo): string {
  if (branchId !== TX_LEVEL) return op;
  const backCheck = op === 'query_prepared' || t.trans_type === 'msg' || (!!target && target === t.query_prepared);
  return backCheck ? `back-check (query_prepared)` : `workflow resume (${op})`;
}

function AttemptsTable({ attempts, now }: { attempts: Attempt[]; now: number }) {
  if (!attempts.length) return <div class="muted small no-attempts">no attempts recorded</div>;
  return (
    <table class="table attempts" data-testid="attempts">
      <thead>
        <tr>
          <th>#</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Outcome</th>
          <th>Code</th>
          <th>Detail</th>
          <th>Instance</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a, i) => (
          <tr key={a.id} data-testid="attempt" data-outcome={a.outcome} data-code={a.code ?? 0}>
            <td class="num">{i + 1}</td>
            <td>
              <Time t={a.start_time} ms now={now} />
            </td>
            <td class="num">{a.duration_ms ?? 0} ms</td>
            <td>
              <OutcomeBadge outcome={a.outcome} />
            </td>
            <td class="num" data-testid="attempt-code">
              {a.code ? a.code : <span class="muted">–</span>}
            </td>
            <td class="detail-cell">
              <Detail text={a.detail} />
            </td>
            <td class="mono small">{a.owner ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Timeline({ branches, attempts, now, trans }: { branches: Branch[]; attempts: Attempt[]; now: number; trans: TransInfo }) {
  const groups = groupTimeline(branches, attempts);
  if (!groups.length) return <div class="muted" data-testid="no-branches">No branches yet.</div>;
  return (
    <ol class="timeline" data-testid="timeline">
      {groups.map((g) => (
        <li key={g.branchId} class="tl-group" data-testid="branch-group" data-branch-id={g.branchId}>
          <div class="tl-marker" />
          <h3 class="tl-title">{g.branchId === TX_LEVEL ? 'Transaction-level calls' : `Branch ${g.branchId}`}</h3>
          {g.ops.map((e) => {
            const target = e.branch?.url ?? e.attempts[0]?.target;
            return (
              <div key={e.op} class="tl-op" data-testid="branch-op" data-op={e.op} data-status={e.branch?.status ?? ''}>
                <div class="tl-op-head">
                  <span class="op-name">{opLabel(g.branchId, e.op, target, trans)}</span>
                  {e.branch && <StatusBadge status={e.branch.status} />}
                  {target && (
                    <span class="mono url small" data-testid="branch-url">
                      {target}
                    </span>
                  )}
                  <span class="tl-op-meta muted small">
                    {e.attempts.length} attempt{e.attempts.length === 1 ? '' : 's'}
                    {e.branch?.finish_time && (
                      <>
                        {' · finished '}
                        <Time t={e.branch.finish_time} now={now} />
                      </>
                    )}
                  </span>
                </div>
                {e.branch && <Payload b64={e.branch.bin_data} open={e.attempts.length > 0} />}
                <AttemptsTable attempts={e.attempts} now={now} />
              </div>
            );
          })}
        </li>
      ))}
    </ol>
  );
}
