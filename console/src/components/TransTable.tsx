import type { ComponentChildren } from 'preact';
import { transHref } from '../router';
import type { Global } from '../types';
import { StatusBadge } from './Badge';
import { RelTime, Time } from './Time';

const FINISHED = new Set(['succeed', 'failed']);

export interface ExtraColumn {
  title: string;
  cell: (g: Global) => ComponentChildren;
}

export function TransTable({
  rows,
  error,
  now,
  extra = [],
  empty = 'No transactions match.',
}: {
  rows: Global[] | null;
  error: string | null;
  now: number;
  extra?: ExtraColumn[];
  empty?: string;
}) {
  const state = error && !rows ? 'error' : rows === null ? 'loading' : 'ready';
  return (
    <div class="table-wrap" data-testid="trans-table" data-state={state} data-count={rows ? rows.length : 0}>
      <table class="table">
        <thead>
          <tr>
            <th>GID</th>
            <th>Type</th>
            <th>Status</th>
            <th>Protocol</th>
            <th>Created</th>
            <th>Updated</th>
            <th>Next try</th>
            {extra.map((c) => (
              <th key={c.title}>{c.title}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows?.map((g) => (
            <tr key={g.gid} data-testid="trans-row" data-gid={g.gid} data-status={g.status}>
              <td class="mono gid-cell">
                <a href={transHref(g.gid)} data-testid="gid-link">
                  {g.gid}
                </a>
              </td>
              <td>{g.trans_type ?? '–'}</td>
              <td>
                <StatusBadge status={g.status} />
              </td>
              <td>{g.protocol ?? '–'}</td>
              <td>
                <Time t={g.create_time} now={now} />
              </td>
              <td>
                <Time t={g.update_time} now={now} />
              </td>
              <td>
                {g.status && FINISHED.has(g.status) ? (
                  <span class="muted">–</span>
                ) : (
                  <RelTime t={g.next_cron_time} now={now} testid="next-try" />
                )}
              </td>
              {extra.map((c) => (
                <td key={c.title}>{c.cell(g)}</td>
              ))}
            </tr>
          ))}
          {rows && rows.length === 0 && (
            <tr>
              <td colSpan={7 + extra.length} class="empty" data-testid="empty">
                {empty}
              </td>
            </tr>
          )}
          {rows === null && !error && (
            <tr>
              <td colSpan={7 + extra.length} class="empty">
                Loading…
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {error && (
        <div class="inline-error" data-testid="load-error">
          {error}
        </div>
      )}
    </div>
  );
}

export function Pager({
  hasPrev,
  hasNext,
  onPrev,
  onNext,
  pageSize,
  setPageSize,
  page,
}: {
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  pageSize: number;
  setPageSize: (n: number) => void;
  page: number;
}) {
  return (
    <div class="pager">
      <label>
        Page size{' '}
        <select data-testid="page-size" value={String(pageSize)} onChange={(e) => setPageSize(Number(e.currentTarget.value))}>
          {[20, 50, 100].map((n) => (
            <option key={n} value={String(n)}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <span class="muted" data-testid="page-number">
        page {page}
      </span>
      <button class="btn btn-small" data-testid="prev-page" disabled={!hasPrev} onClick={onPrev}>
        ‹ Previous
      </button>
      <button class="btn btn-small" data-testid="next-page" disabled={!hasNext} onClick={onNext}>
        Next ›
      </button>
    </div>
  );
}
