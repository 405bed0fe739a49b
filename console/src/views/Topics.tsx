import { useState } from 'preact/hooks';
import { api, errText } from '../api';
import { ConfirmDialog } from '../components/Modal';
import { Time } from '../components/Time';
import { useLoader, useTick } from '../hooks';
import { showError, showSuccess } from '../notify';
import { useIsAdmin } from '../session';
import type { KV, Subscriber } from '../types';

const MAX_PAGES = 20;

async function loadTopics(): Promise<KV[]> {
  const all: KV[] = [];
  let pos = '';
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await api.topics(pos);
    all.push(...(r.kv ?? []));
    pos = r.next_position ?? '';
    if (!pos) break;
  }
  return all.sort((a, b) => a.k.localeCompare(b.k));
}

function subscribers(kv: KV): Subscriber[] {
  try {
    const v = JSON.parse(kv.v);
    return Array.isArray(v) ? v.filter((s) => s && typeof s.url === 'string') : [];
  } catch {
    return [];
  }
}

export function TopicsView() {
  const isAdmin = useIsAdmin();
  const now = useTick(5000);
  const topics = useLoader(loadTopics, []);
  const [form, setForm] = useState({ topic: '', url: '', remark: '' });
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);

  const run = async (what: () => Promise<unknown>, ok: string) => {
    setBusy(true);
    try {
      await what();
      showSuccess(ok);
      return true;
    } catch (e) {
      showError(errText(e));
      return false;
    } finally {
      setBusy(false);
      await topics.reload();
    }
  };

  const subscribe = async (e: Event) => {
    e.preventDefault();
    const topic = form.topic.trim();
    const url = form.url.trim();
    if (!topic || !url) {
      showError('Topic and URL are required.');
      return;
    }
    if (await run(() => api.subscribe(topic, url, form.remark.trim()), `Subscribed ${url} to ${topic}.`)) {
      setForm({ topic, url: '', remark: '' });
    }
  };

  const list = topics.data;
  return (
    <section class="view" data-testid="view-topics">
      <div class="view-head">
        <h1>Topics</h1>
        <button class="btn btn-small" data-testid="refresh" onClick={() => void topics.reload()} disabled={topics.loading}>
          {topics.loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>

      {isAdmin && (
        <form class="card subscribe-form" data-testid="subscribe-form" onSubmit={subscribe}>
          <h2>Subscribe</h2>
          <div class="form-row">
            <label>
              Topic
              <input data-testid="sub-topic" value={form.topic} onInput={(e) => setForm({ ...form, topic: e.currentTarget.value })} placeholder="orders.created" />
            </label>
            <label class="grow">
              URL
              <input data-testid="sub-url" value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} placeholder="http://service:8081/api/handler" />
            </label>
            <label>
              Remark
              <input data-testid="sub-remark" value={form.remark} onInput={(e) => setForm({ ...form, remark: e.currentTarget.value })} placeholder="optional" />
            </label>
            <button class="btn btn-primary" type="submit" data-testid="sub-submit" disabled={busy}>
              Subscribe
            </button>
          </div>
        </form>
      )}

      {topics.error && (
        <div class="inline-error" data-testid="load-error">
          {topics.error}
        </div>
      )}
      <div data-testid="topics" data-state={list ? 'ready' : 'loading'}>
        {list && list.length === 0 && (
          <div class="card muted" data-testid="empty">
            No topics.
          </div>
        )}
        {list?.map((kv) => {
          const subs = subscribers(kv);
          return (
            <div class="card topic" key={kv.k} data-testid="topic" data-topic={kv.k}>
              <div class="topic-head">
                <h2 class="mono">{kv.k}</h2>
                <span class="muted small">
                  {subs.length} subscriber{subs.length === 1 ? '' : 's'} · version {kv.version ?? '–'} · updated <Time t={kv.update_time} now={now} />
                </span>
                {isAdmin && (
                  <button class="btn btn-small btn-danger" data-testid="topic-delete" disabled={busy} onClick={() => setDeleting(kv.k)}>
                    Delete
                  </button>
                )}
              </div>
              <table class="table">
                <thead>
                  <tr>
                    <th>Subscriber URL</th>
                    <th>Remark</th>
                    {isAdmin && <th />}
                  </tr>
                </thead>
                <tbody>
                  {subs.map((s) => (
                    <tr key={s.url} data-testid="subscriber" data-url={s.url}>
                      <td class="mono">{s.url}</td>
                      <td>{s.remark || <span class="muted">–</span>}</td>
                      {isAdmin && (
                        <td class="right">
                          <button
                            class="btn btn-small"
                            data-testid="unsubscribe"
                            disabled={busy}
                            onClick={() => run(() => api.unsubscribe(kv.k, s.url), `Unsubscribed ${s.url} from ${kv.k}.`)}
                          >
                            Unsubscribe
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                  {subs.length === 0 && (
                    <tr>
                      <td colSpan={3} class="empty">
                        no subscribers
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          );
        })}
      </div>

      {deleting !== null && (
        <ConfirmDialog
          title="Delete topic?"
          confirmLabel="Delete"
          danger
          busy={busy}
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            const t = deleting;
            await run(() => api.deleteTopic(t), `Topic ${t} deleted.`);
            setDeleting(null);
          }}
        >
          <p>
            Delete topic <span class="mono">{deleting}</span> and all its subscriptions? Messages published to it afterwards fail.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
