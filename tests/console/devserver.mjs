// DEVELOPMENT TOOL ONLY (the tests do not use it): serves console/dist at /admin/ and proxies
// /api/* to a dtmd, so that the front-end can be tried before dtmd embeds it. With no --dtmd it
// starts its own dtmd (LYNX_DTMD_PATH) and a business service, and creates a few transactions.
// Routes and filters an older dtmd lacks (/api/admin/server, /api/admin/summary, the gidPrefix
// and overdue filters of /all) are emulated.
//
//   node tests/console/devserver.mjs [--port 8080] [--dtmd http://127.0.0.1:36789] [--dist console/dist]
//
// `node --import ./dev-preload.mjs --test x.test.mjs` runs a test file with the console served
// this way in front of each dtmd it starts (to try the suite before dtmd embeds the console).
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dtmClient, repoRoot, startBusiness, startDtmd, step } from './harness.mjs';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

async function emulate(dtmBase, started, req, res) {
  const path = req.url.split('?')[0];
  const fwd = { authorization: req.headers.authorization ?? '' };
  const json = (code, obj) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  if (path === '/api/admin/server') {
    // The role, probed: /all needs reader, resetNextCronTime needs admin.
    const open = (await fetch(`${dtmBase}/api/dtmsvr/all?limit=1`)).status !== 401;
    let role = 'admin';
    if (!open) {
      const st = (await fetch(`${dtmBase}/api/dtmsvr/all?limit=1`, { headers: fwd })).status;
      if (st === 401) {
        if (fwd.authorization) return json(401, { message: 'unknown token' }), true;
        role = 'none';
      } else if (st === 403) role = 'client';
      else {
        const r = await fetch(`${dtmBase}/api/dtmsvr/resetNextCronTime`, { method: 'POST', headers: fwd, body: '{"gid":""}' });
        role = r.status === 403 ? 'reader' : 'admin';
      }
    }
    json(200, {
      version: 'dev', instance: 'devserver', store: 'embedded', started_at: new Date(started).toISOString(),
      uptime_seconds: Math.round((Date.now() - started) / 1000), auth_enabled: !open, role,
      config: { Store: { Driver: 'embedded', Password: '***' }, TransCronInterval: 1, HttpPort: 0 },
    });
    return true;
  }
  if (path === '/api/admin/summary') {
    const counts = { prepared: 0, submitted: 0, aborting: 0, succeed: 0, failed: 0 };
    let overdue = 0;
    const r = await fetch(`${dtmBase}/api/dtmsvr/all?limit=1000`, { headers: fwd }).then((x) => x.json());
    for (const g of r.transactions ?? []) {
      counts[g.status] = (counts[g.status] ?? 0) + 1;
      if (!['succeed', 'failed'].includes(g.status) && g.next_cron_time && Date.parse(g.next_cron_time) < Date.now()) overdue++;
    }
    json(200, { counts, count_cap: 1000, overdue });
    return true;
  }
  const q = new URL(req.url, 'http://x').searchParams;
  if (path === '/api/dtmsvr/all' && (q.get('gidPrefix') || q.get('overdue'))) {
    const r = await fetch(`${dtmBase}/api/dtmsvr/all?limit=1000${q.get('status') ? '&status=' + q.get('status') : ''}`, { headers: fwd });
    if (r.status !== 200) return json(r.status, await r.json()), true;
    let list = (await r.json()).transactions ?? [];
    if (q.get('gidPrefix')) list = list.filter((g) => g.gid.startsWith(q.get('gidPrefix')));
    if (q.get('overdue')) list = list.filter((g) => !['succeed', 'failed'].includes(g.status) && g.next_cron_time && Date.parse(g.next_cron_time) < Date.now());
    json(200, { transactions: list, next_position: '' });
    return true;
  }
  return false;
}

/** Serves dist at /admin/ and dtmBase's API; resolves to the server's base URL. */
export async function frontFor(dtmBase, { dist = join(repoRoot, 'console/dist'), port = 0 } = {}) {
 const started = Date.now();
 const server = http.createServer(async (req, res) => {
  if (req.url.startsWith('/api/')) {
    if (await emulate(dtmBase, started, req, res)) return;
    const t = new URL(dtmBase);
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (u) => {
      res.writeHead(u.statusCode, u.headers);
      u.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
    return;
  }
  if (req.url === '/' || req.url === '/admin') { res.writeHead(302, { Location: '/admin/' }); res.end(); return; }
  if (!req.url.startsWith('/admin/')) { res.writeHead(404); res.end(); return; }
  let rel = normalize(decodeURIComponent(req.url.split('?')[0].slice('/admin/'.length)));
  if (rel === '.' || rel === '') rel = 'index.html';
  const file = join(dist, rel);
  if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) { res.writeHead(404); res.end('not found'); return; }
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
 });
 await new Promise((r) => server.listen(port, '127.0.0.1', r));
 return `http://127.0.0.1:${server.address().port}`;
}


if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  let dtmBase = arg('--dtmd', '');
  if (!dtmBase) {
    const dtmd = await startDtmd();
    const busi = await startBusiness();
    dtmBase = dtmd.base;
    const c = dtmClient(dtmBase);
    for (let i = 0; i < 25; i++) await c.submitSaga(await c.newGid('pg-'), [step(busi, 'succeed')]);
    await c.submitSaga(await c.newGid('flaky-'), [step(busi, 'succeed'), step(busi, 'flaky')]);
    await c.submitSaga(await c.newGid('fail-'), [step(busi, 'succeed'), step(busi, 'fail')]);
    await c.submitSaga(await c.newGid('down-'), [step(busi, 'down')]);
    await c.prepareMsg(await c.newGid('msg-'), `${busi.url}/succeed`, `${busi.url}/query`, { timeout_to_fail: 3600 });
    await c.ok('GET', `/api/dtmsvr/subscribe?topic=orders&url=${encodeURIComponent(busi.url + '/succeed')}&remark=demo`);
    const stop = async () => {
      await dtmd.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    console.log(`dtmd at ${dtmBase}, business at ${busi.url}`);
  }
  const base = await frontFor(dtmBase, { dist: arg('--dist', join(repoRoot, 'console/dist')), port: Number(arg('--port', '8080')) });
  console.log(`console at ${base}/admin/`);
}
