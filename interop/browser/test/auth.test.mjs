// Sign-in and moderation on our page in Chromium (docs/AUTH.md): a page opened with `#token=…`
// signs in by itself (no name prompt; the name comes from the JWT), a moderator deletes a
// message and the other page shows the tombstone, mute and ban reach the user as plain
// sentences, an expired sign-in says so, and an operator template's `window.CHATROOM_TOKEN`
// signs in too. Screenshots in interop/browser/screenshots/auth-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import {
  startServer, launchBrowser, watch, waitConnected, send, waitForMessage, renderOurPage,
  screenshotDir,
} from './harness.mjs';

const SECRET = 'browser tests HS256 secret, 32+ bytes long';

function jwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${signed}.${crypto.createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
}

const epoch = (offset) => Math.floor(Date.now() / 1000) + offset;
const token = (name, role, ttl = 3600) => jwt({ sub: `sub-${name}`, name, role, exp: epoch(ttl) });

let server;
let browser;

before(async () => {
  server = await startServer({ args: ['--auth', 'jwt', '--auth-secret', SECRET] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const e = await server?.stop();
  if (e) assert.equal(e.code, 0, `server exit ${JSON.stringify(e)}`);
});

/** Opens our page at `url` with `#token=…`; waits until it is connected (no name prompt). */
async function openSignedIn(url, tok, { connected = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(`${url}/#token=${encodeURIComponent(tok)}`);
  if (connected) await waitConnected(page);
  return { context, page, problems };
}

const shot = (page, name) => page.screenshot({ path: path.join(screenshotDir, `auth-${name}.png`) });

test('a page opened with #token= signs in by itself; a moderator deletes, the other page shows the tombstone', { timeout: 120_000 }, async () => {
  const mod = await openSignedIn(server.url, token('Mona', 'moderator'));
  const bea = await openSignedIn(server.url, token('Bea'));
  try {
    for (const { page } of [mod, bea]) {
      assert.equal(await page.locator('#name-dialog').evaluate((d) => d.open), false, 'no name prompt');
      assert.equal(await page.evaluate(() => window.location.hash), '', 'the token left the address bar');
      assert.equal(await page.locator('#rename-button').isHidden(), true, 'the JWT names the user');
    }
    assert.equal(await mod.page.textContent('#me-name'), 'Mona');
    assert.equal(await bea.page.textContent('#me-name'), 'Bea');
    // Only the moderator gets moderation controls.
    await mod.page.locator('#member-list [data-name="Bea"] button[data-action="kick"]').waitFor();
    assert.equal(await bea.page.locator('#member-list button[data-action]').count(), 0);

    await send(bea.page, 'please delete me');
    const onMod = await waitForMessage(mod.page, 'please delete me');
    await waitForMessage(bea.page, 'please delete me');
    assert.equal(await bea.page.locator('.msg-delete').count(), 0, 'users cannot delete');
    await onMod.hover();
    await onMod.locator('.msg-delete').click();
    const tomb = 'This message was deleted.';
    await bea.page.locator('#message-list li.tombstone .bubble', { hasText: tomb }).waitFor();
    await mod.page.locator('#message-list li.tombstone .bubble', { hasText: tomb }).waitFor();
    assert.equal(await bea.page.locator('#message-list .bubble', { hasText: 'please delete me' }).count(), 0);
    await shot(bea.page, 'tombstone');
    // A reload reads the tombstone from history.
    await bea.page.reload();
    await bea.page.locator('#message-list li.tombstone .bubble', { hasText: tomb }).waitFor();

    await shot(mod.page, 'moderator');
    // Mute: the user is told in a sentence, and a send says why it failed.
    await mod.page.locator('#member-list [data-name="Bea"] button[data-action="mute"]').click();
    await bea.page.locator('#composer-hint', { hasText: /A moderator muted you in #lobby until / }).waitFor();
    await send(bea.page, 'am I muted?');
    await bea.page.locator('#message-list li.pending.failed', { hasText: /you are muted for (10|9) more minutes/ }).waitFor();
    await bea.page.locator('#composer-hint', { hasText: /A moderator muted you\. You can write again in (10|9) minutes\./ }).waitFor();
    await shot(bea.page, 'muted');

    // Ban: the page says so and stops; a reload is refused with the same sentence.
    await mod.page.locator('#member-list [data-name="Bea"] button[data-action="ban"]').click();
    await bea.page.locator('#status', { hasText: /^You are banned from this chat until .+\.$/ }).waitFor();
    await bea.page.reload();
    await bea.page.locator('#status', { hasText: /^You are banned from this chat until .+\.$/ }).waitFor();
    await shot(bea.page, 'banned');
    await mod.page.locator('#composer-hint', { hasText: 'Bea is banned for an hour.' }).waitFor();
    for (const p of [mod, bea]) assert.deepEqual(p.problems, { errors: [], dialogs: [] });
  } finally {
    await mod.context.close();
    await bea.context.close();
  }
});

test('an expired sign-in is a sentence, not a silent failure', { timeout: 60_000 }, async () => {
  const late = await openSignedIn(server.url, token('Late', 'user', -10), { connected: false });
  const soon = await openSignedIn(server.url, token('Soon', 'user', 3));
  try {
    const sentence = 'Your session has expired. Sign in again to continue.';
    await late.page.locator('#status', { hasText: sentence }).waitFor();
    assert.equal(await late.page.locator('#name-dialog').evaluate((d) => d.open), false);
    // Connected now, cut at exp by the server's session_expired.
    await soon.page.locator('#status', { hasText: sentence }).waitFor({ timeout: 10_000 });
    await shot(soon.page, 'session-expired');
    const bad = await openSignedIn(server.url, 'not-a-token', { connected: false });
    await bad.page.locator('#status', { hasText: 'Your sign-in was not accepted.' }).waitFor();
    await bad.context.close();
  } finally {
    await late.context.close();
    await soon.context.close();
  }
});

test("an operator template's window.CHATROOM_TOKEN signs the page in", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'chatroom-views-'));
  const views = path.join(dir, 'views');
  await mkdir(views);
  const html = (await renderOurPage('Operator page')).replace(
    '<script src="/socket.io/socket.io.js"></script>',
    `<script>window.CHATROOM_TOKEN = ${JSON.stringify(token('Olga', 'admin'))};</script>\n  <script src="/socket.io/socket.io.js"></script>`,
  );
  await writeFile(path.join(views, 'index.html'), html);
  const op = await startServer({ args: ['--auth', 'jwt', '--auth-secret', SECRET, '--views', views] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(op.url);
    await waitConnected(page);
    assert.equal(await page.textContent('#me-name'), 'Olga');
    assert.equal(await page.evaluate(() => document.body.dataset.role), 'admin');
    assert.deepEqual(problems, { errors: [], dialogs: [] });
  } finally {
    await context.close();
    await op.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
