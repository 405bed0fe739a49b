// Hash routing: #/ , #/overdue , #/trans/<gid> , #/topics , #/server ; a query after '?'
// carries the filters so that links are shareable (#/?status=failed&gidPrefix=abc).
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  name: 'transactions' | 'overdue' | 'detail' | 'topics' | 'server' | 'notfound';
  gid?: string;
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  let h = hash.replace(/^#/, '');
  if (!h.startsWith('/')) h = '/' + h;
  const q = h.indexOf('?');
  const path = q >= 0 ? h.slice(0, q) : h;
  const query = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  if (path === '/' || path === '') return { name: 'transactions', query };
  if (path === '/overdue') return { name: 'overdue', query };
  if (path === '/topics') return { name: 'topics', query };
  if (path === '/server') return { name: 'server', query };
  if (path.startsWith('/trans/')) {
    let gid = path.slice('/trans/'.length);
    try {
      gid = decodeURIComponent(gid);
    } catch {
      /* keep raw */
    }
    return { name: 'detail', gid, query };
  }
  return { name: 'notfound', query };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function transHref(gid: string): string {
  return '#/trans/' + encodeURIComponent(gid);
}

/** Replaces the hash query of the current path without adding a history entry per keystroke. */
export function setHashQuery(path: string, params: Record<string, string | undefined>, push = false): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  const hash = '#' + path + (s ? '?' + s : '');
  if (hash === location.hash) return;
  if (push) location.hash = hash;
  else {
    history.replaceState(null, '', hash);
    dispatchEvent(new HashChangeEvent('hashchange'));
  }
}
