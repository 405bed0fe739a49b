import { dismiss, useNotices } from '../notify';

export function Notices() {
  const notices = useNotices();
  const errors = notices.filter((n) => n.kind === 'error');
  const toasts = notices.filter((n) => n.kind === 'success');
  return (
    <>
      {errors.map((n) => (
        <div class="banner banner-error" role="alert" data-testid="error-banner" key={n.id}>
          <span class="banner-text">{n.text}</span>
          <button class="banner-close" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
      <div class="toasts">
        {toasts.map((n) => (
          <div class="toast" role="status" data-testid="toast" key={n.id}>
            {n.text}
          </div>
        ))}
      </div>
    </>
  );
}
