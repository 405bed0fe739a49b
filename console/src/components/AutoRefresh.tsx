export function AutoRefresh({
  on,
  set,
  loading,
  onRefresh,
  seconds = 5,
}: {
  on: boolean;
  set: (v: boolean) => void;
  loading?: boolean;
  onRefresh: () => void;
  seconds?: number;
}) {
  return (
    <div class="autorefresh">
      <label class="toggle" title={`Reload every ${seconds} s`}>
        <input type="checkbox" data-testid="auto-refresh" checked={on} onChange={(e) => set(e.currentTarget.checked)} />
        auto-refresh {seconds} s
      </label>
      <button class="btn btn-small" data-testid="refresh" onClick={onRefresh} disabled={loading}>
        {loading ? 'Loading…' : 'Refresh'}
      </button>
    </div>
  );
}
