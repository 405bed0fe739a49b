// Formatting helpers: times (local + relative), payload decoding, numbers.

export function parseTime(t?: string | null): Date | null {
  if (!t) return null;
  const d = new Date(t);
  if (isNaN(d.getTime()) || d.getTime() <= 0 || d.getUTCFullYear() < 1971) return null;
  return d;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function localTime(d: Date, ms = false): string {
  const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? s + '.' + pad(d.getMilliseconds(), 3) : s;
}

export function duration(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function relative(d: Date, now = Date.now()): string {
  const diff = (d.getTime() - now) / 1000;
  if (Math.abs(diff) < 1) return 'now';
  const s = duration(diff);
  return diff < 0 ? `${s} ago` : `in ${s}`;
}

export function uptime(seconds: number): string {
  return duration(seconds);
}

/** "1000+" when a count reached the server's cap. */
export function countText(n: number | undefined, cap?: number): string {
  if (n === undefined || n === null) return '–';
  if (cap && n >= cap) return `${cap}+`;
  return String(n);
}

export interface Payload {
  kind: 'json' | 'text' | 'binary' | 'empty';
  text: string;
  bytes: number;
}

function base64Bytes(b64: string): Uint8Array | null {
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function hexDump(bytes: Uint8Array, max = 512): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, max);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const asc = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${asc}`);
  }
  if (bytes.length > max) lines.push(`… ${bytes.length - max} more bytes`);
  return lines.join('\n');
}

/** bin_data (base64) → pretty JSON, UTF-8 text, or a hex dump. */
export function decodePayload(b64?: string): Payload {
  if (!b64) return { kind: 'empty', text: '', bytes: 0 };
  const bytes = base64Bytes(b64);
  if (!bytes) return { kind: 'text', text: b64, bytes: b64.length };
  let text: string | null = null;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  // Control characters other than whitespace mean a binary encoding such as protobuf.
  if (text !== null && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    const t = text.trim();
    if (t.startsWith('{') || t.startsWith('[') || t.startsWith('"')) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(t), null, 2), bytes: bytes.length };
      } catch {
        /* not JSON */
      }
    }
    return { kind: 'text', text, bytes: bytes.length };
  }
  return { kind: 'binary', text: hexDump(bytes), bytes: bytes.length };
}

/** The trace id (32 hex) of a W3C traceparent in ext_data's headers. */
export function traceId(extData?: string): string | null {
  if (!extData) return null;
  try {
    const j = JSON.parse(extData);
    const h = j?.headers ?? {};
    let tp: unknown = h.traceparent;
    if (tp === undefined) for (const k of Object.keys(h)) if (k.toLowerCase() === 'traceparent') tp = h[k];
    if (Array.isArray(tp)) tp = tp[0];
    if (typeof tp !== 'string') return null;
    const parts = tp.trim().split('-');
    return parts.length >= 2 && /^[0-9a-f]{32}$/i.test(parts[1]) ? parts[1].toLowerCase() : null;
  } catch {
    return null;
  }
}

export function prettyJsonText(s?: string): string {
  if (!s) return '';
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

export function fmtNum(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(digits);
}
