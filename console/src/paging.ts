import { useState } from 'preact/hooks';

interface PageState {
  pos: string;
  stack: string[];
}

// Kept per list+filters for the whole session, so going to a detail and back returns to the page.
const remembered = new Map<string, PageState>();

/** Cursor paging: the current position and a stack of the previous ones. */
export function useCursorPaging(key: string) {
  const [, force] = useState(0);
  const st = remembered.get(key) ?? { pos: '', stack: [] };
  const set = (s: PageState) => {
    remembered.set(key, s);
    force((n) => n + 1);
  };
  return {
    pos: st.pos,
    page: st.stack.length + 1,
    hasPrev: st.stack.length > 0,
    next(nextPos: string) {
      if (nextPos) set({ pos: nextPos, stack: [...st.stack, st.pos] });
    },
    prev() {
      if (!st.stack.length) return;
      set({ pos: st.stack[st.stack.length - 1], stack: st.stack.slice(0, -1) });
    },
    reset() {
      set({ pos: '', stack: [] });
    },
  };
}
