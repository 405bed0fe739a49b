// A dtmd with Auth on: sign-in form, the reader sees everything read-only, the admin gets the
// actions, a wrong token is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dtmClient, launchBrowser, openPage, screenshot, startBusiness, startDtmd, step, tableRows, waitFor } from './harness.mjs';

const ADMIN = 'admin-token-0123456789';
const READER = 'reader-token-0123456789';
const CLIENT = 'client-token-0123456789';

describe('console on a dtmd with authentication', () => {
  let dtmd, busi, browser, admin, stuck, ok;

  before(async () => {
    [dtmd, busi, browser] = await Promise.all([
      startDtmd({ name: 'dtmd-auth', tokens: [`ops admin ${ADMIN}`, `viewer reader ${READER}`, `app client ${CLIENT}`] }),
      startBusiness(),
      launchBrowser(),
    ]);
    admin = dtmClient(dtmd.base, ADMIN);
    const client = dtmClient(dtmd.base, CLIENT);
    ok = await client.newGid('auth-ok-');
    await client.submitSaga(ok, [step(busi, 'succeed')]);
    stuck = await client.newGid('auth-stuck-');
    await client.submitSaga(stuck, [step(busi, 'down')], undefined, { retry_interval: 60 });
    await admin.waitStatus(ok, 'succeed');
    await admin.waitAttempts(stuck, 1);
    assert.equal((await dtmClient(dtmd.base).call('GET', '/api/dtmsvr/all')).status, 401);
  });

  after(async () => {
    await browser?.close();
    await busi?.stop();
    await dtmd?.stop();
  });

  async function signIn(page, token) {
    await page.locator('[data-testid=login-form]').waitFor();
    assert.equal(await page.locator('[data-testid=login-token]').getAttribute('type'), 'password');
    await page.fill('[data-testid=login-token]', token);
    await page.click('[data-testid=login-submit]');
  }

  test('reader: read-only; admin: actions; wrong token: refused', async () => {
    // A wrong token is refused by dtmd (401): the browser logs that failed request.
    const page = await openPage(browser, { allow: [/status of 401/] });
    await page.goto(dtmd.adminUrl);
    await page.locator('[data-testid=login-form]').waitFor();
    assert.equal(await page.locator('[data-testid=nav]').count(), 0);
    await screenshot(page, 'login.png');

    await signIn(page, 'wrong-token-0123456789');
    await page.locator('[data-testid=login-error]').waitFor();
    assert.ok((await page.locator('[data-testid=login-error]').innerText()).length > 0);
    assert.equal(await page.locator('[data-testid=view-transactions]').count(), 0);

    // Reader.
    await page.fill('[data-testid=login-token]', '');
    await signIn(page, READER);
    await page.locator('[data-testid=view-transactions]').waitFor();
    assert.equal(await page.locator('[data-testid=role]').textContent(), 'reader');
    await waitFor('both transactions listed', async () => {
      const r = new Map(await tableRows(page));
      return r.get(ok) === 'succeed' && r.get(stuck) === 'submitted';
    });
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(stuck)}`);
    await page.locator('[data-testid=detail-head][data-status=submitted]').waitFor();
    await page.locator('[data-testid=attempt]').first().waitFor();
    assert.equal(await page.locator('[data-testid=force-stop]').count(), 0);
    assert.equal(await page.locator('[data-testid=retry-now]').count(), 0);
    await screenshot(page, 'reader.png');
    await page.goto(`${dtmd.adminUrl}#/topics`);
    await page.locator('[data-testid=topics][data-state=ready]').waitFor();
    assert.equal(await page.locator('[data-testid=subscribe-form]').count(), 0);
    // The token is sent as a bearer token and kept for the session (a reload stays signed in).
    await page.reload();
    await page.locator('[data-testid=view-topics]').waitFor();
    assert.equal(await page.locator('[data-testid=role]').textContent(), 'reader');

    // The reader token may not act: dtmd says 403.
    const r = await fetch(`${dtmd.base}/api/dtmsvr/forceStop`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${READER}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ gid: stuck }),
    });
    assert.equal(r.status, 403);

    // Sign out, then admin.
    await page.click('[data-testid=sign-out]');
    await page.locator('[data-testid=login-form]').waitFor();
    await signIn(page, ADMIN);
    await page.locator('[data-testid=role]').waitFor();
    assert.equal(await page.locator('[data-testid=role]').textContent(), 'admin');
    await page.goto(`${dtmd.adminUrl}#/trans/${encodeURIComponent(stuck)}`);
    await page.locator('[data-testid=force-stop]').waitFor();
    await page.locator('[data-testid=retry-now]').waitFor();
    await page.goto(`${dtmd.adminUrl}#/topics`);
    await page.locator('[data-testid=subscribe-form]').waitFor();

    page.assertClean();
    await page.close();
  });
});
