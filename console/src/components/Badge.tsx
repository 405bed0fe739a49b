export function StatusBadge({ status }: { status?: string }) {
  const s = status || 'unknown';
  return (
    <span class={`badge st-${s}`} data-testid="status-badge" data-status={s}>
      {s}
    </span>
  );
}

export function OutcomeBadge({ outcome }: { outcome: string }) {
  const o = (outcome || 'UNKNOWN').toUpperCase();
  return (
    <span class={`badge oc-${o.toLowerCase()}`} data-testid="outcome-badge" data-outcome={o}>
      {o}
    </span>
  );
}
