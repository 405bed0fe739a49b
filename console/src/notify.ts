// Error banner (role=alert) and success toasts, shown by <Notices/> in the app shell.
import { useEffect, useState } from 'preact/hooks';

export interface Notice {
  id: number;
  kind: 'error' | 'success';
  text: string;
}

let notices: Notice[] = [];
let nextId = 1;
const listeners = new Set<(n: Notice[]) => void>();

function emit() {
  listeners.forEach((fn) => fn(notices));
}

export function dismiss(id: number): void {
  notices = notices.filter((n) => n.id !== id);
  emit();
}

export function showError(text: string): void {
  // One banner per message text: repeated failures of a poll do not stack up.
  notices = notices.filter((n) => !(n.kind === 'error' && n.text === text));
  notices = [...notices, { id: nextId++, kind: 'error', text }];
  emit();
}

export function showSuccess(text: string, ms = 4000): void {
  const id = nextId++;
  notices = [...notices, { id, kind: 'success', text }];
  emit();
  setTimeout(() => dismiss(id), ms);
}

export function clearErrors(): void {
  notices = notices.filter((n) => n.kind !== 'error');
  emit();
}

export function useNotices(): Notice[] {
  const [n, setN] = useState(notices);
  useEffect(() => {
    listeners.add(setN);
    return () => {
      listeners.delete(setN);
    };
  }, []);
  return n;
}
