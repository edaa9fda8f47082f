// The page title comes from `--title` and is autoescaped by the template engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, watch } from './harness.mjs';

const title = '<script>alert(1)</script> & "Rust" 聊天';
let server;
let browser;

before(async () => {
  server = await startServer({ title });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('--title shows literally as heading and document title', { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = watch(page);
  await page.goto(server.url + '/');
  assert.equal((await page.textContent('h1#title')).trim(), title);
  assert.equal(await page.title(), title);
  assert.equal(await page.locator('head script, body script:not([src])').count(), 0);
  assert.deepEqual(problems, { errors: [], dialogs: [] });
  await ctx.close();
});
