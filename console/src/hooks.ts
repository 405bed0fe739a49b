import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errText } from './api';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** Loads again; resolves when done. */
  reload: () => Promise<void>;
}

/**
 * Loads data with `fn` whenever `deps` change, and every `intervalMs` while `auto` is true.
 * A reply to an outdated request (deps changed meanwhile) is dropped. Data stays on screen while
 * a refresh is under way, so auto-refresh never blanks the page.
 */
export function useLoader<T>(fn: () => Promise<T>, deps: unknown[], auto = false, intervalMs = 5000): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  const reload = useCallback(async () => {
    const my = ++seq.current;
    setLoading(true);
    try {
      const d = await fnRef.current();
      if (my !== seq.current) return;
      setData(d);
      setError(null);
    } catch (e) {
      if (my !== seq.current) return;
      setError(errText(e));
    } finally {
      if (my === seq.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(null);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    if (!auto) return;
    const id = setInterval(() => {
      if (!document.hidden) void reload();
    }, intervalMs);
    return () => clearInterval(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [auto, intervalMs, ...deps]);

  return { data, error, loading, reload };
}

/** Re-renders every `ms` so relative times ("3 s ago") stay current. */
export function useTick(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/** A boolean persisted in sessionStorage (the auto-refresh toggles). */
export function useStoredFlag(key: string, initial: boolean): [boolean, (v: boolean) => void] {
  const [v, setV] = useState(() => {
    try {
      const s = sessionStorage.getItem(key);
      return s === null ? initial : s === '1';
    } catch {
      return initial;
    }
  });
  const set = (nv: boolean) => {
    setV(nv);
    try {
      sessionStorage.setItem(key, nv ? '1' : '0');
    } catch {
      /* ignore */
    }
  };
  return [v, set];
}
