// The console against a real dtmd (cron on) and a real business service: the transactions list,
// filters, paging and counters; the flaky saga's detail; retry now and force stop; topics; server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dtmClient,
  launchBrowser,
  openPage,
  screenshot,
  startBusiness,
  startDtmd,
  step,
  tableRows,
  waitFor,
} from './harness.mjs';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

describe('console on a dtmd with cron', () => {
  let dtmd, busi, browser, c;
  const gids = { pg: [] };

  before(async () => {
    [dtmd, busi, browser] = await Promise.all([startDtmd({ name: 'dtmd' }), startBusiness(), launchBrowser()]);
    c = dtmClient(dtmd.base);
    // 25 quick succeeding sagas, for paging.
    for (let i = 0; i < 25; i++) {
      const gid = await c.newGid('pg-');
      gids.pg.push(gid);
      await c.submitSaga(gid, [step(busi, 'succeed')]);
    }
    gids.flaky = await c.newGid('flaky-');
    await c.submitSaga(
      gids.flaky,
      [step(busi, 'succeed'), step(busi, 'flaky')],
      undefined,
      { branch_headers: { Authorization: 'Bearer secret-of-the-branch', 'X-Tenant': 'acme' } },
      { traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01` },
    );
    gids.fail = await c.newGid('fail-');
    await c.submitSaga(gids.fail, [step(busi, 'succeed'), step(busi, 'fail')]);
    gids.down = await c.newGid('down-');
    await c.submitSaga(gids.down, [step(busi, 'down')]);
    // Stuck with a long retry interval: the subjects of "retry now" and "force stop".
    gids.retry = await c.newGid('retry-');
    await c.submitSaga(gids.retry, [step(busi, 'down')], undefined, { retry_interval: 60 });
    gids.stop = await c.newGid('stop-');
    await c.submitSaga(gids.stop, [step(busi, 'succeed'), step(busi, 'down')], undefined, { retry_interval: 60 });
    // A msg whose back-check (1 s after prepare) says the local transaction committed.
    gids.msgCheck = await c.newGid('msgcheck-');
    await c.prepareMsg(gids.msgCheck, `${busi.url}/succeed`, `${busi.url}/query`, { timeout_to_fail: 1 });
    gids.msg = await c.newGid('msg-');
    await c.prepareMsg(gids.msg, `${busi.url}/succeed`, `${busi.url}/query`, { timeout_to_fail: 3600 });

    await Promise.all([
      ...gids.pg.map((g) => c.waitStatus(g, 'succeed')),
      c.waitStatus(gids.flaky, 'succeed'),
      c.waitStatus(gids.fail, 'failed'),
      c.waitStatus(gids.msg, 'prepared'),
      c.waitStatus(gids.msgCheck, 'succeed'),
      c.waitAttempts(gids.down, 2).then(() => c.waitStatus(gids.down, 'submitted')),
      c.waitAttempts(gids.retry, 1),
      c.waitAttempts(gids.stop, 2),
    ]);
    // The flaky branch's third (successful) call is recorded behind the call: wait for it.
    await waitFor('3 attempts of the flaky action', async () => (await c.attempts(gids.flaky)).filter((a) => a.op === 'action' && a.branch_id === '02').length === 3);
  });

  after(async () => {
    await browser?.close();
    await busi?.stop();
    await dtmd?.stop();
  });

  const rowsMatch = (page, what, pred) =>
    waitFor(what, async () => {
      const rows = await tableRows(page);
      return pred(rows) ? rows : null;
    });

  test('transactions list: statuses, filters, paging and counters', async () => {
    const page = await openPage(browser);
    await page.goto(dtmd.adminUrl);
    await page.locator('[data-testid=view-transactions]').waitFor();
    assert.match(await page.locator('[data-testid=brand]').innerText(), /lynx-dtm console/);
    for (const l of ['transactions', 'overdue', 'topics', 'server']) await page.locator(`[data-testid=nav-${l}]`).waitFor();

    // Every transaction with its status (page size 100 shows all of them).
    const all = await c.allTransactions();
    const total = all.length;
    assert.equal(total, gids.pg.length + 7);
    await page.selectOption('[data-testid=page-size]', '100');
    const rows = await rowsMatch(page, 'all rows', (r) => r.length === total);
    const shown = new Map(rows);
    for (const g of all) assert.equal(shown.get(g.gid), g.status, `status of ${g.gid}`);
    assert.equal(shown.get(gids.flaky), 'succeed');
    assert.equal(shown.get(gids.fail), 'failed');
    assert.equal(shown.get(gids.down), 'submitted');
    assert.equal(shown.get(gids.msg), 'prepared');
    await screenshot(page, 'transactions.png');

    // Status filter: only failed ones, reflected in the hash.
    await page.selectOption('[data-testid=filter-status]', 'failed');
    await rowsMatch(page, 'only failed rows', (r) => r.length >= 1 && r.every(([, s]) => s === 'failed') && r.some(([g]) => g === gids.fail));
    assert.match(page.url(), /status=failed/);

    // A shareable link restores the filter.
    await page.goto(`${dtmd.adminUrl}#/?status=prepared`);
    await rowsMatch(page, 'only the prepared msg', (r) => r.length === 1 && r[0][0] === gids.msg);
    assert.equal(await page.locator('[data-testid=filter-status]').inputValue(), 'prepared');

    // Gid prefix filter.
    await page.click('[data-testid=filter-clear]');
    await page.fill('[data-testid=filter-gid]', 'flaky-');
    await rowsMatch(page, 'only the flaky saga', (r) => r.length === 1 && r[0][0] === gids.flaky);
    assert.match(page.url(), /gidPrefix=flaky-/);
    await page.selectOption('[data-testid=page-size]', '50');
    await page.fill('[data-testid=filter-gid]', 'pg-');
    await rowsMatch(page, 'the 25 paging sagas', (r) => r.length === 25 && r.every(([g]) => g.startsWith('pg-')));
    assert.match(page.url(), /gidPrefix=pg-/);

    // Creation time bounds: nothing was created in the future, everything after an hour ago.
    await page.click('[data-testid=filter-clear]');
    const local = (ms) => {
      const d = new Date(ms);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    await page.fill('[data-testid=filter-from]', local(Date.now() + 3600e3));
    await rowsMatch(page, 'no rows created in the future', (r) => r.length === 0);
    assert.match(page.url(), /from=/);
    await page.fill('[data-testid=filter-from]', local(Date.now() - 3600e3));
    await rowsMatch(page, 'all rows created in the last hour', (r) => r.length === total);

    // Cursor paging with 20 a page: Next shows another set, Previous comes back.
    await page.click('[data-testid=filter-clear]');
    await page.selectOption('[data-testid=page-size]', '20');
    const page1 = await rowsMatch(page, 'a first page of 20', (r) => r.length === 20);
    await page.click('[data-testid=next-page]');
    const page2 = await rowsMatch(page, 'a second page', (r) => r.length === total - 20 && !r.some(([g]) => page1.some(([h]) => h === g)));
    assert.equal(await page.locator('[data-testid=page-number]').innerText(), 'page 2');
    assert.equal(await page.locator('[data-testid=next-page]').isDisabled(), true);
    // Auto-refresh (every 5 s) reloads the same page with the same cursor.
    const refreshed = [];
    page.on('request', (req) => req.url().includes('/api/dtmsvr/all?') && refreshed.push(new URL(req.url()).searchParams));
    await waitFor('an auto-refresh of page 2', () => refreshed.some((q) => q.get('position') && q.get('limit') === '20'), { timeout: 12000 });
    const page2again = await rowsMatch(page, 'page 2 after the refresh', (r) => r.length === total - 20);
    assert.deepEqual(page2again.map(([g]) => g), page2.map(([g]) => g));
    assert.equal(await page.locator('[data-testid=page-number]').innerText(), 'page 2');
    const union = new Set([...page1, ...page2].map(([g]) => g));
    assert.equal(union.size, total);
    await page.click('[data-testid=prev-page]');
    const back = await rowsMatch(page, 'the first page again', (r) => r.length === 20);
    assert.deepEqual(back.map(([g]) => g), page1.map(([g]) => g));
    assert.equal(await page.locator('[data-testid=prev-page]').isDisabled(), true);

    // Counters: the numbers of the API, and a click filters.
    const expected = { prepared: 0, submitted: 0, aborting: 0, succeed: 0, failed: 0 };
    for (const g of await c.allTransactions()) expected[g.status]++;
    assert.deepEqual(expected, { prepared: 1, submitted: 3, aborting: 0, succeed: 27, failed: 1 });
    for (const [st, n] of Object.entries(expected)) {
      await waitFor(`counter ${st} = ${n}`, async () => (await page.locator(`[data-testid=counter-${st}]`).getAttribute('data-count')) === String(n));
      assert.equal((await page.locator(`[data-testid=counter-${st}] .counter-n`).innerText()).trim(), String(n));
    }
    await page.click('[data-testid=counter-submitted]');
    await rowsMatch(page, 'only submitted rows', (r) => r.length === 3 && r.every(([, s]) => s === 'submitted'));

    page.assertClean();
    await page.close();
  });

  test('detail of the flaky saga: branch timeline with every attempt', async () => {
    const page = await openPage(browser);
    await page.goto(dtmd.adminUrl);
    await page.click(`[data-testid=trans-row][data-gid="${gids.flaky}"] [data-testid=gid-link]`);
    await page.locator('[data-testid=view-detail]').waitFor();
    assert.equal(decodeURIComponent(new URL(page.url()).hash), `#/trans/${gids.flaky}`);
    assert.equal(await page.locator('[data-testid=detail-gid]').innerText(), gids.flaky);
    assert.equal(await page.locator('[data-testid=detail-head]').getAttribute('data-status'), 'succeed');

    const action = page.locator('[data-testid=branch-group][data-branch-id="02"] [data-testid=branch-op][data-op=action]');
    await action.waitFor();
    assert.equal(await action.getAttribute('data-status'), 'succeed');
    assert.match(await action.locator('[data-testid=branch-url]').innerText(), /\/flaky$/);
    const attempts = action.locator('[data-testid=attempt]');
    assert.equal(await attempts.count(), 3);
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const a = attempts.nth(i);
      seen.push([await a.getAttribute('data-outcome'), await a.getAttribute('data-code')]);
    }
    assert.ok(['FAILURE', 'ERROR'].includes(seen[0][0]) && ['FAILURE', 'ERROR'].includes(seen[1][0]), JSON.stringify(seen));
    assert.deepEqual(seen.map(([, code]) => code), ['500', '500', '200']);
    assert.equal(seen[2][0], 'SUCCESS');
    const failedDetail = attempts.nth(0).locator('[data-testid=attempt-detail]');
    assert.equal(await failedDetail.innerText(), 'temporarily down');
    assert.ok(await failedDetail.isVisible());

    // The trace id of the traceparent the saga was submitted with; branch headers as dtmd gives
    // them (secret values redacted by dtmd, never by the console).
    assert.equal(await page.locator('[data-testid=trace-id] dd').innerText(), TRACE_ID);
    const q = await c.query(gids.flaky);
    const headers = page.locator('[data-testid=branch-headers]');
    assert.match(await headers.innerText(), /X-Tenant\s+acme/);
    assert.ok(!(await headers.innerText()).includes('secret-of-the-branch'));
    assert.ok((await headers.innerText()).includes(q.transaction.branch_headers.Authorization));

    // The payload is pretty-printed JSON.
    const payload = action.locator('[data-testid=payload]');
    assert.equal(await payload.getAttribute('data-kind'), 'json');
    assert.equal(await payload.locator('[data-testid=payload-text]').innerText(), '{\n  "amount": 30\n}');

    // Branch 01 succeeded at the first call; the compensations were never called.
    const first = page.locator('[data-testid=branch-group][data-branch-id="01"] [data-testid=branch-op][data-op=action] [data-testid=attempt]');
    assert.equal(await first.count(), 1);
    // A finished transaction offers no actions.
    assert.equal(await page.locator('[data-testid=force-stop]').count(), 0);
    await action.scrollIntoViewIfNeeded();
    await screenshot(page, 'detail-flaky.png');

    // The failed saga shows its rollback reason and its compensation.
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(gids.fail)}`);
    await page.locator('[data-testid=rollback-reason]').waitFor();
    assert.match(await page.locator('[data-testid=rollback-reason]').innerText(), /fail/);
    await page.locator('[data-testid=branch-group][data-branch-id="01"] [data-testid=branch-op][data-op=compensate] [data-testid=attempt][data-outcome=SUCCESS]').waitFor();

    // The msg's back-check is a transaction-level call (branch_id 00).
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(gids.msgCheck)}`);
    const txLevel = page.locator('[data-testid=branch-group][data-branch-id="00"]');
    await txLevel.waitFor();
    assert.match(await txLevel.innerText(), /Transaction-level calls/);
    assert.match(await txLevel.innerText(), /back-check/);
    assert.equal(await txLevel.locator('[data-testid=attempt][data-outcome=SUCCESS]').count(), 1);
    assert.match(await txLevel.locator('[data-testid=branch-url]').innerText(), /\/query$/);

    // An unknown gid.
    await page.goto(`${dtmd.adminUrl}#/trans/no-such-gid`);
    await page.locator('[data-testid=not-found]').waitFor();

    page.assertClean();
    await page.close();
  });

  test('retry now and force stop on stuck transactions', async () => {
    const page = await openPage(browser, { allow: [] });

    // Retry now: the next try was a minute away; after the click the cron calls the branch again.
    const q0 = await c.query(gids.retry);
    assert.equal(q0.transaction.status, 'submitted');
    assert.ok(Date.parse(q0.transaction.next_cron_time) > Date.now() + 10000, `next try far away: ${q0.transaction.next_cron_time}`);
    const before = (await c.attempts(gids.retry)).length;
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(gids.retry)}`);
    await page.locator('[data-testid=retry-now]').waitFor();
    await page.click('[data-testid=retry-now]');
    await page.locator('[data-testid=toast]').waitFor();
    await waitFor('a new attempt after retry now', async () => (await c.attempts(gids.retry)).length > before, { timeout: 15000 });
    // The detail reloads (auto-refresh) and shows the new attempt.
    await waitFor('the new attempt on the page', async () => (await page.locator('[data-testid=attempt]').count()) > before, { timeout: 15000 });

    // Force stop: a confirmation dialog with the compensation warning, then failed.
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(gids.stop)}`);
    await page.locator('[data-testid=force-stop]').waitFor();
    await page.click('[data-testid=force-stop]');
    const dialog = page.locator('[data-testid=confirm-dialog]');
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute('role'), 'dialog');
    assert.match(
      await dialog.innerText(),
      /Force stop marks the transaction failed immediately\. Compensations will NOT run; branches already done stay done\./,
    );
    await screenshot(page, 'force-stop-dialog.png');
    // Cancel leaves it alone.
    await page.click('[data-testid=confirm-cancel]');
    assert.equal(await dialog.count(), 0);
    assert.equal(await c.status(gids.stop), 'submitted');
    await page.click('[data-testid=force-stop]');
    await page.click('[data-testid=confirm-ok]');
    await page.locator('[data-testid=detail-head][data-status=failed]').waitFor();
    assert.equal(await c.status(gids.stop), 'failed');
    assert.equal(await page.locator('[data-testid=force-stop]').count(), 0, 'no actions on a finished transaction');
    // The compensation of the branch that succeeded was not called.
    assert.equal(busi.calls.filter((x) => x.gid === gids.stop && x.path === '/compensate').length, 0);

    // An action's error reply is shown in the banner: force-stopping it again (409).
    const again = await c.call('POST', '/api/dtmsvr/forceStop', { gid: gids.stop });
    assert.ok(again.status >= 400, `second force stop: ${again.status}`);

    page.assertClean();
    await page.close();
  });

  test('an action refused by dtmd shows its message in an alert banner', async () => {
    // The retry subject is force-stopped behind the console's back; then Force stop in the
    // stale page gets dtmd's error reply.
    const page = await openPage(browser, { allow: [/status of 4\d\d/] });
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(gids.retry)}`);
    await page.locator('[data-testid=auto-refresh]').uncheck();
    await page.locator('[data-testid=force-stop]').waitFor();
    await c.ok('POST', '/api/dtmsvr/forceStop', { gid: gids.retry });
    await page.click('[data-testid=force-stop]');
    await page.click('[data-testid=confirm-ok]');
    const banner = page.locator('[data-testid=error-banner][role=alert]');
    await banner.waitFor();
    assert.ok((await banner.innerText()).trim().length > 0);
    await page.locator('[data-testid=detail-head][data-status=failed]').waitFor();
    page.assertClean();
    await page.close();
  });

  test('topics: subscribe, unsubscribe, delete', async () => {
    const page = await openPage(browser);
    const topic = 'orders-' + Date.now();
    const url1 = `${busi.url}/succeed`;
    const url2 = `${busi.url}/compensate`;
    await page.goto(`${dtmd.adminUrl}#/topics`);
    await page.locator('[data-testid=topics][data-state=ready]').waitFor();
    const card = page.locator(`[data-testid=topic][data-topic="${topic}"]`);
    assert.equal(await card.count(), 0);

    for (const [url, remark] of [[url1, 'first'], [url2, 'second']]) {
      await page.fill('[data-testid=sub-topic]', topic);
      await page.fill('[data-testid=sub-url]', url);
      await page.fill('[data-testid=sub-remark]', remark);
      await page.click('[data-testid=sub-submit]');
      await card.locator(`[data-testid=subscriber][data-url="${url}"]`).waitFor();
    }
    assert.match(await card.locator(`[data-testid=subscriber][data-url="${url1}"]`).innerText(), /first/);
    const kv = await c.ok('GET', '/api/dtmsvr/scanKV?cat=topics&limit=100');
    assert.equal(JSON.parse(kv.kv.find((x) => x.k === topic).v).length, 2);
    await screenshot(page, 'topics.png');

    await card.locator(`[data-testid=subscriber][data-url="${url1}"] [data-testid=unsubscribe]`).click();
    await waitFor('the subscriber to go', async () => (await card.locator(`[data-testid=subscriber][data-url="${url1}"]`).count()) === 0);
    assert.equal(await card.locator(`[data-testid=subscriber][data-url="${url2}"]`).count(), 1);

    await card.locator('[data-testid=topic-delete]').click();
    await page.locator('[data-testid=confirm-dialog]').waitFor();
    await page.click('[data-testid=confirm-ok]');
    await waitFor('the topic to go', async () => (await card.count()) === 0);
    const kv2 = await c.ok('GET', '/api/dtmsvr/scanKV?cat=topics&limit=100');
    assert.equal((kv2.kv ?? []).some((x) => x.k === topic), false);

    page.assertClean();
    await page.close();
  });

  test('server view: version, configuration and charts', async () => {
    const page = await openPage(browser);
    const info = await c.ok('GET', '/api/admin/server');
    await page.goto(`${dtmd.adminUrl}#/server`);
    await page.locator('[data-testid=server-version]').waitFor();
    assert.equal(await page.locator('[data-testid=server-version]').innerText(), info.version);
    assert.ok(info.version.length > 0);
    assert.equal(await page.locator('[data-testid=server-instance]').innerText(), info.instance);
    assert.equal(await page.locator('[data-testid=server-store]').innerText(), 'embedded');
    assert.match(await page.locator('[data-testid=server-auth]').innerText(), /disabled.*admin/);
    await page.locator('[data-testid=config-tree] [data-testid=config-entry]').first().waitFor();

    for (const k of ['throughput', 'apiLatency', 'transLatency', 'inFlight', 'cronLag']) {
      assert.equal(await page.locator(`[data-testid=chart-${k}] svg`).count(), 1, `chart ${k}`);
    }
    // Two scrapes (2 s apart) give the rates a point; the counters dtmd exports are present.
    await waitFor('a throughput value', async () => /\/s$/.test(await page.locator('[data-testid=chart-throughput-value]').innerText()), { timeout: 10000 });
    // API latency needs API requests between two scrapes: make some.
    await waitFor('an API latency value', async () => {
      await c.query(gids.flaky);
      return /ms$/.test(await page.locator('[data-testid=chart-apiLatency-value]').innerText());
    }, { timeout: 10000 });
    assert.equal(await page.locator('[data-testid=chart-throughput]').getAttribute('data-present'), '1');
    assert.ok((await page.locator('[data-testid=chart-throughput] path.chart-line').count()) >= 1);
    await screenshot(page, 'server.png');

    // The overdue view of this server (nothing is overdue while the cron runs... mostly).
    await page.click('[data-testid=nav-overdue]');
    await page.locator('[data-testid=overdue-explain]').waitFor();
    page.assertClean();
    await page.close();
  });
});
