// The console behind a reverse proxy under /prefix/: every URL it uses is relative.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dtmClient, launchBrowser, openPage, startBusiness, startDtmd, startPrefixProxy, step, tableRows, waitFor } from './harness.mjs';

describe('console under a path prefix', () => {
  let dtmd, busi, browser, proxy, gid;

  before(async () => {
    [dtmd, busi, browser] = await Promise.all([startDtmd({ name: 'dtmd-prefix' }), startBusiness(), launchBrowser()]);
    proxy = await startPrefixProxy(dtmd.front, '/prefix');
    const c = dtmClient(dtmd.base);
    gid = await c.newGid('prefixed-');
    await c.submitSaga(gid, [step(busi, 'succeed')]);
    await c.waitStatus(gid, 'succeed');
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await busi?.stop();
    await dtmd?.stop();
  });

  test('loads at /prefix/admin/ and lists transactions', async () => {
    const page = await openPage(browser);
    const outside = [];
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.protocol.startsWith('http') && !u.pathname.startsWith('/prefix/')) outside.push(req.url());
    });
    await page.goto(`${proxy.base}/prefix/admin/`);
    const rows = await waitFor('the transaction through the proxy', async () => {
      const r = await tableRows(page);
      return r.some(([g, s]) => g === gid && s === 'succeed') ? r : null;
    });
    assert.equal(rows.length, 1);
    await page.click(`[data-testid=trans-row][data-gid="${gid}"] [data-testid=gid-link]`);
    await page.locator('[data-testid=detail-head][data-status=succeed]').waitFor();
    await page.click('[data-testid=nav-server]');
    await page.locator('[data-testid=server-version]').waitFor();
    await waitFor('a metrics scrape', () => proxy.seen.some((u) => u.startsWith('/prefix/api/metrics')));
    assert.deepEqual(outside, [], 'requests outside the prefix');
    assert.ok(proxy.seen.some((u) => u.startsWith('/prefix/api/dtmsvr/all')));
    assert.ok(proxy.seen.some((u) => u.startsWith('/prefix/admin/assets/')));
    page.assertClean();
    await page.close();
  });
});
