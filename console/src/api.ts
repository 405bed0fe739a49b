// Every call goes to ../api/... relative to the page, so the console works under any path
// prefix (/admin/ or /prefix/admin/ behind a proxy). The bearer token lives in sessionStorage.
import type { AllReply, Attempt, KV, QueryReply, ServerInfo, Summary } from './types';

const TOKEN_KEY = 'lynx-dtm-console.token';

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

type AuthListener = () => void;
const authListeners = new Set<AuthListener>();

/** Called when the server answers 401: the UI shows the sign-in form. */
export function onUnauthorized(fn: AuthListener): () => void {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export function getToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lasts until reload */
  }
}

export function apiUrl(path: string, params?: Record<string, string | number | undefined | null>): string {
  const url = new URL('../api/' + path, location.href);
  url.hash = '';
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
  }
  return url.toString();
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    if (j && typeof j.message === 'string') return j.message;
    if (j && typeof j.dtm_result === 'string') return j.dtm_result;
  } catch {
    /* not JSON */
  }
  return text.trim() || `HTTP ${res.status} ${res.statusText}`;
}

export async function request(
  method: string,
  path: string,
  opts: { params?: Record<string, string | number | undefined | null>; body?: unknown; token?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = opts.token ?? getToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.params), { method, headers, body, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'cannot reach dtmd: ' + (e instanceof Error ? e.message : String(e)));
  }
  if (!res.ok) {
    const msg = await errorMessage(res);
    if (res.status === 401 && opts.token === undefined) authListeners.forEach((fn) => fn());
    throw new ApiError(res.status, msg);
  }
  return res;
}

async function getJson<T>(path: string, params?: Record<string, string | number | undefined | null>): Promise<T> {
  const res = await request('GET', path, { params });
  return (await res.json()) as T;
}

export interface ListFilter {
  status?: string;
  transType?: string;
  gidPrefix?: string;
  createTimeStart?: number;
  createTimeEnd?: number;
  overdue?: boolean;
}

export const api = {
  all(f: ListFilter, limit: number, position: string) {
    return getJson<AllReply>('dtmsvr/all', {
      limit,
      position,
      status: f.status,
      transType: f.transType,
      gidPrefix: f.gidPrefix,
      createTimeStart: f.createTimeStart,
      createTimeEnd: f.createTimeEnd,
      overdue: f.overdue ? 1 : undefined,
    });
  },
  summary: () => getJson<Summary>('admin/summary'),
  server: () => getJson<ServerInfo>('admin/server'),
  query: (gid: string) => getJson<QueryReply>('dtmsvr/query', { gid }),
  attempts: async (gid: string) => (await getJson<{ attempts: Attempt[] | null }>('dtmsvr/attempts', { gid })).attempts ?? [],
  forceStop: (gid: string) => request('POST', 'dtmsvr/forceStop', { body: { gid } }),
  retryNow: (gid: string) => request('POST', 'dtmsvr/resetNextCronTime', { body: { gid } }),
  topics: (position: string) =>
    getJson<{ kv: KV[] | null; next_position?: string }>('dtmsvr/scanKV', { cat: 'topics', limit: 100, position }),
  subscribe: (topic: string, url: string, remark: string) =>
    request('GET', 'dtmsvr/subscribe', { params: { topic, url, remark } }),
  unsubscribe: (topic: string, url: string) => request('GET', 'dtmsvr/unsubscribe', { params: { topic, url } }),
  deleteTopic: (topic: string) => request('DELETE', 'dtmsvr/topic/' + encodeURIComponent(topic)),
  async metrics(): Promise<string> {
    const res = await request('GET', 'metrics');
    return res.text();
  },
};

export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
