// The overdue view, against a dtmd without its cron: a saga whose branch is down fails its first
// call, its next try (1 s later) passes, and nothing picks it up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dtmClient, launchBrowser, openPage, screenshot, startBusiness, startDtmd, step, tableRows, waitFor } from './harness.mjs';

describe('overdue view on a dtmd without cron', () => {
  let dtmd, busi, browser, c, stuck, done;

  before(async () => {
    [dtmd, busi, browser] = await Promise.all([startDtmd({ name: 'dtmd-nocron', args: ['--disable-cron'] }), startBusiness(), launchBrowser()]);
    c = dtmClient(dtmd.base);
    stuck = await c.newGid('overdue-');
    await c.submitSaga(stuck, [step(busi, 'down')], undefined, { retry_interval: 1 });
    done = await c.newGid('done-');
    await c.submitSaga(done, [step(busi, 'succeed')]);
    await c.waitStatus(done, 'succeed');
    await waitFor('the stuck saga in all?overdue=1', async () => {
      const r = await c.ok('GET', '/api/dtmsvr/all?overdue=1&limit=100');
      return (r.transactions ?? []).some((g) => g.gid === stuck);
    });
    await c.waitAttempts(stuck, 1);
  });

  after(async () => {
    await browser?.close();
    await busi?.stop();
    await dtmd?.stop();
  });

  test('lists the stuck transaction with its attempts', async () => {
    const page = await openPage(browser);
    await page.goto(`${dtmd.adminUrl}#/overdue`);
    await page.locator('[data-testid=view-overdue]').waitFor();
    assert.equal(
      await page.locator('[data-testid=overdue-explain]').innerText(),
      'Unfinished transactions whose next retry time has passed: the cron has not picked them up yet.',
    );
    const rows = await waitFor('the stuck row', async () => {
      const r = await tableRows(page);
      return r.some(([g]) => g === stuck) ? r : null;
    });
    assert.equal(rows.some(([g]) => g === done), false, 'a finished transaction is never overdue');
    const row = page.locator(`[data-testid=trans-row][data-gid="${stuck}"]`);
    assert.equal(await row.getAttribute('data-status'), 'submitted');
    const attempts = await c.attempts(stuck);
    await waitFor('the attempt count', async () => (await row.locator('[data-testid=attempt-count]').innerText()) === String(attempts.length));
    const last = row.locator('[data-testid=last-attempt]');
    assert.match(await last.innerText(), /ERROR|FAILURE/);
    assert.match(await last.innerText(), /500/);
    assert.match(await last.innerText(), /service down/);
    // The next try is in the past.
    await waitFor('next try shown in the past', async () => /ago$/.test(await row.locator('[data-testid=next-try]').innerText()), { timeout: 5000 });
    await screenshot(page, 'overdue.png');

    // The overdue counter of the transactions view counts it.
    await page.click('[data-testid=nav-transactions]');
    await waitFor('overdue counter 1', async () => (await page.locator('[data-testid=counter-overdue]').getAttribute('data-count')) === '1');

    // Retry now resets its next try to now (no cron here to call it).
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(stuck)}`);
    const before = Date.now();
    await page.click('[data-testid=retry-now]');
    await page.locator('[data-testid=toast]').waitFor();
    const q = await c.query(stuck);
    const next = Date.parse(q.transaction.next_cron_time);
    assert.ok(next <= Date.now() + 1000 && next >= before - 2000, `next_cron_time ${q.transaction.next_cron_time} is about now`);
    page.assertClean();
    await page.close();
  });
});
