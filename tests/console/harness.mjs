// Shared fixtures of the console's browser tests: a real dtmd, a real business service, helpers
// for dtmd's API, and a headless system Chromium driven by playwright-core.
//
// Environment:
//   LYNX_DTMD_PATH           the dtmd binary (default <repo>/build/apps/dtmd/dtmd)
//   LYNX_CONSOLE_ARTIFACTS   where screenshots go (default <repo>/build/console-artifacts)
//   LYNX_CHROMIUM            the browser (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const dtmdPath = process.env.LYNX_DTMD_PATH || join(repoRoot, 'build/apps/dtmd/dtmd');
export const artifactsDir = process.env.LYNX_CONSOLE_ARTIFACTS || join(repoRoot, 'build/console-artifacts');
export const chromiumPath = process.env.LYNX_CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws with `what` (and the last value) at the deadline. */
export async function waitFor(what, fn, { timeout = 20000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const detail = lastErr ? ` (last error: ${lastErr.message})` : ` (last value: ${JSON.stringify(last)})`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// dtmd

/**
 * Starts dtmd on free ports with the embedded store in a fresh directory.
 * config: YAML text (DTM's keys); args: extra command-line flags; tokens: tokens-file lines
 * (turns Auth on).
 */
export async function startDtmd({ config = 'TransCronInterval: 1\n', args = [], tokens = null, name = 'dtmd' } = {}) {
  assert.ok(existsSync(dtmdPath), `dtmd binary not found at ${dtmdPath} (set LYNX_DTMD_PATH)`);
  const dir = mkdtempSync(join(tmpdir(), 'lynx-console-'));
  const portFile = join(dir, 'ports');
  let yaml = 'ListenAddress: 127.0.0.1\n' + config;
  if (tokens) {
    const tokensFile = join(dir, 'tokens');
    writeFileSync(tokensFile, tokens.join('\n') + '\n', { mode: 0o600 });
    yaml += `Auth:\n  Enabled: true\n  TokensFile: ${tokensFile}\n`;
  }
  const cfg = join(dir, 'dtmd.yml');
  writeFileSync(cfg, yaml);
  const argv = ['-c', cfg, '--store', 'embedded', '--data-dir', join(dir, 'data'), '--http-port', '0', '--grpc-port', '0', '--port-file', portFile, ...args];
  const proc = spawn(dtmdPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  let exited = null;
  proc.on('exit', (code, sig) => (exited = { code, sig }));

  const ports = await waitFor(
    `${name} to write its port file`,
    () => {
      if (exited) throw new Error(`${name} exited (${JSON.stringify(exited)}): ${log.slice(-2000)}`);
      if (!existsSync(portFile)) return null;
      const lines = readFileSync(portFile, 'utf8').split('\n').filter((l) => l.trim());
      return lines.length >= 2 ? lines.map(Number) : null;
    },
    { timeout: 20000, interval: 50 },
  ).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  const base = `http://127.0.0.1:${ports[0]}`;
  const front = base;
  return {
    base,
    httpPort: ports[0],
    grpcPort: ports[1],
    dir,
    /** The origin serving the console (dtmd itself in the real suite). */
    front,
    adminUrl: `${front}/admin/`,
    log: () => log,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        await waitFor(`${name} to exit`, () => exited, { timeout: 10000, interval: 50 }).catch(() => proc.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// dtmd's API, as a client would call it

export function dtmClient(base, token = null) {
  const headers = (extra = {}) => ({ ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra });
  async function call(method, path, body, extraHeaders = {}) {
    const res = await fetch(base + path, {
      method,
      headers: headers({ ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...extraHeaders }),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, text };
  }
  async function ok(method, path, body, extraHeaders) {
    const r = await call(method, path, body, extraHeaders);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
    return r.json;
  }
  const c = {
    call,
    ok,
    async newGid(prefix = '') {
      const r = await ok('GET', '/api/dtmsvr/newGid');
      return prefix + r.gid;
    },
    /** extra: more fields of the body; headers: of the HTTP request (e.g. traceparent). */
    submitSaga(gid, steps, payloads, extra = {}, headers = {}) {
      return ok(
        'POST',
        '/api/dtmsvr/submit',
        {
          gid,
          trans_type: 'saga',
          steps,
          payloads: payloads ?? steps.map(() => '{"amount":30}'),
          retry_interval: 1,
          ...extra,
        },
        headers,
      );
    },
    prepareMsg(gid, action, queryPrepared, extra = {}) {
      return ok('POST', '/api/dtmsvr/prepare', {
        gid,
        trans_type: 'msg',
        steps: [{ action }],
        payloads: ['{}'],
        query_prepared: queryPrepared,
        ...extra,
      });
    },
    query: (gid) => ok('GET', `/api/dtmsvr/query?gid=${encodeURIComponent(gid)}`),
    attempts: async (gid) => (await ok('GET', `/api/dtmsvr/attempts?gid=${encodeURIComponent(gid)}`)).attempts ?? [],
    async status(gid) {
      return (await c.query(gid)).transaction?.status ?? null;
    },
    async waitStatus(gid, status, timeout = 30000) {
      return waitFor(`${gid} to be ${status}`, async () => ((await c.status(gid)) === status ? true : null), { timeout, interval: 150 });
    },
    async waitAttempts(gid, n, timeout = 30000) {
      return waitFor(`${gid} to have ${n} attempts`, async () => {
        const a = await c.attempts(gid);
        return a.length >= n ? a : null;
      }, { timeout, interval: 150 });
    },
    /** Every transaction of the server, through cursor paging. */
    async allTransactions(params = '') {
      const out = [];
      let pos = '';
      for (let i = 0; i < 100; i++) {
        const r = await ok('GET', `/api/dtmsvr/all?limit=1000${params}${pos ? '&position=' + encodeURIComponent(pos) : ''}`);
        out.push(...(r.transactions ?? []));
        pos = r.next_position;
        if (!pos) break;
      }
      return out;
    },
  };
  return c;
}

// ---------------------------------------------------------------------------------------------
// the business service whose replies the tests control

export async function startBusiness() {
  const calls = [];
  const flakyCount = new Map();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      const gid = u.searchParams.get('gid') ?? '';
      const branch = u.searchParams.get('branch_id') ?? '';
      calls.push({ path: u.pathname, gid, branch, op: u.searchParams.get('op'), body });
      const send = (code, obj) => {
        res.writeHead(code, { 'Content-Type': typeof obj === 'string' ? 'text/plain' : 'application/json' });
        res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
      };
      switch (u.pathname) {
        case '/succeed':
        case '/compensate':
        case '/query':
          return send(200, { dtm_result: 'SUCCESS' });
        case '/fail':
          return send(409, { dtm_result: 'FAILURE' });
        case '/flaky': {
          // Per transaction and branch: the first 2 calls fail, then it succeeds.
          const k = gid + '/' + branch;
          const n = (flakyCount.get(k) ?? 0) + 1;
          flakyCount.set(k, n);
          return n <= 2 ? send(500, 'temporarily down') : send(200, { dtm_result: 'SUCCESS' });
        }
        case '/down':
          return send(500, 'service down');
        default:
          return send(404, 'no such route');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    calls,
    stop: () => closeServer(server),
  };
}

function closeServer(server) {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

/** Saga steps of the business service: step(busi, 'flaky') → {action, compensate}. */
export const step = (busi, action, compensate = 'compensate') => ({ action: `${busi.url}/${action}`, compensate: `${busi.url}/${compensate}` });

// ---------------------------------------------------------------------------------------------
// the browser

export const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser() {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} missing: apt-get install -y chromium`);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: BROWSER_ARGS });
}

/**
 * A page (1400x900) that records console errors/warnings and page errors.
 * allow: regexps of messages expected in this test (e.g. a 401 while signing in with a bad token).
 */
export async function openPage(browser, { allow = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    const type = msg.type();
    if (type !== 'error' && type !== 'warning') return;
    const text = msg.text();
    if (allow.some((re) => re.test(text))) return;
    problems.push(`console.${type}: ${text} @ ${msg.location()?.url ?? ''}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.assertClean = () => assert.deepEqual(problems, [], 'the browser reported errors or warnings');
  page.problems = problems;
  page.close = ((orig) => async () => {
    await orig.call(page);
    await context.close();
  })(page.close);
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, name), fullPage: false });
}

/** Waits until the transactions table has loaded (data-state=ready) and returns its rows' gid → status. */
export async function tableRows(page, timeout = 10000) {
  await page.locator('[data-testid=trans-table][data-state=ready]').waitFor({ timeout });
  return page.$$eval('[data-testid=trans-row]', (rows) => rows.map((r) => [r.getAttribute('data-gid'), r.getAttribute('data-status')]));
}

// ---------------------------------------------------------------------------------------------
// a reverse proxy, to serve the console under a path prefix

export async function startPrefixProxy(targetBase, prefix = '/prefix') {
  const target = new URL(targetBase);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url);
    if (!req.url.startsWith(prefix + '/')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('outside the prefix');
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url.slice(prefix.length), headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    seen,
    stop: () => closeServer(server),
  };
}
