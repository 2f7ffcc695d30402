// Drives the demo front end of each example (axum, actix, rocket) in a real Chromium, as a new
// user would: clicking and typing, opening the links of the mails the example prints.
//
//   node tests/browser/flows.mjs [axum|actix|rocket ...]
//
// Needs the example binaries and the test OpenID Connect provider built (`cargo build -p
// authx-example-axum -p authx-example-actix -p authx-example-rocket -p authx-testkit --bin
// authx-test-oidc`), Debian's
// `chromium` (or CHROMIUM=/path/to/chrome) and `npm install` in this folder (playwright-core).
// Screenshots go to target/browser-screenshots/.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(root, 'target', 'browser-screenshots');
mkdirSync(shots, { recursive: true });

const PASSWORD = 'correct horse 1';
const NEW_PASSWORD = 'battery staple 22';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

// The testkit's OpenID Connect provider (a program of authx-testkit), for social sign-in:
// everyone who signs in there is ada@example.com, verified.
async function startProvider() {
  const child = spawn(join(root, 'target', 'debug', 'authx-test-oidc'), [], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const issuer = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('issuer='));
      if (line) resolve(line.slice('issuer='.length).trim());
    });
    child.on('exit', (code) => reject(new Error(`the test provider exited (${code})`)));
    setTimeout(() => reject(new Error('the test provider did not start')), 15000);
  });
  return { issuer, stop: () => child.kill('SIGTERM') };
}

// An example server on a port of its own, with a fresh SQLite database, whose printed mail is
// collected; social login through `provider` (generic OpenID Connect, named `acme`).
async function startExample(name, provider) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `authx-browser-${name}-`));
  const child = spawn(join(root, 'target', 'debug', `authx-example-${name}`), [], {
    cwd: dir,
    env: {
      ...process.env,
      AUTHX_ADDR: `127.0.0.1:${port}`,
      AUTHX_BASE_URL: `http://localhost:${port}`,
      DATABASE_URL: `sqlite://${join(dir, 'authx.db')}`,
      RUST_LOG: 'warn',
      AUTHX_OIDC_PROVIDERS: 'acme',
      AUTHX_OIDC_ACME_ISSUER: provider.issuer,
      AUTHX_OIDC_ACME_CLIENT_ID: 'authx-test-client',
      AUTHX_OIDC_ACME_CLIENT_SECRET: 'authx-test-secret',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const mails = [];
  let out = '';
  let waiting = [];
  child.stdout.on('data', (chunk) => {
    out += chunk.toString();
    let start;
    while ((start = out.indexOf('----- authx mail -----')) !== -1) {
      const end = out.indexOf('----- end of mail -----', start);
      if (end === -1) break;
      mails.push(out.slice(start, end));
      out = out.slice(end + 23);
      waiting = waiting.filter((w) => !w());
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk.toString(); });
  const base = `http://localhost:${port}`;
  for (let i = 0; ; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/config.json`);
      if (response.ok) break;
    } catch {}
    if (i > 300 || child.exitCode !== null) throw new Error(`${name} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The link of the `n`th mail (1-based) whose text names `path`.
  const link = (path, n = 1) => new Promise((resolve, reject) => {
    const find = () => {
      const found = mails.map((m) => m.split('\n').find((l) => l.startsWith(`${base}${path}?token=`))).filter(Boolean);
      if (found.length >= n) {
        resolve(found[n - 1].trim());
        return true;
      }
      return false;
    };
    if (!find()) {
      waiting.push(find);
      setTimeout(() => reject(new Error(`no mail number ${n} with a ${path} link`)), 15000);
    }
  });
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  return { name, port, base, alt: `http://127.0.0.1:${port}`, link, stop };
}

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function shot(page, example, step) {
  await page.screenshot({ path: join(shots, `${example.name}-${step}.png`), fullPage: true });
}

// Waits for the page's message that contains `text`.
async function message(page, text) {
  await page.locator('#messages .message', { hasText: text }).first().waitFor({ timeout: 10000 });
}

async function signUp(page, example, name) {
  await page.goto(`${example.base}/signup`);
  await page.getByLabel('Email').fill(`${name}@example.com`);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  // Submitted from the keyboard.
  await page.getByLabel('Repeat the password').press('Enter');
  await page.getByRole('heading', { name: `Hello, ${name}` }).waitFor();
}

async function logIn(page, url, login, password) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const flows = {
  // Sign up, confirm from the printed mail's link, log out and in again.
  async signUpConfirmAndLogIn(browser, example) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, example, 'ada');
    assert((await page.locator('#email-status').textContent()) === 'not confirmed', 'unconfirmed at first');
    await shot(page, example, '1-signed-up');
    const confirm = await example.link('/confirm');
    await page.goto(confirm);
    await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
    assert(!page.url().includes('token='), 'the token leaves the address bar');
    await shot(page, example, '2-confirmed');
    // The same link a second time is refused, with the API's detail.
    const again = await context.newPage();
    await again.goto(confirm);
    await again.getByRole('heading', { name: 'Confirmation failed' }).waitFor();
    assert((await again.locator('#confirm-result').textContent()) === 'Invalid or expired token', 'the API detail');
    await again.close();
    await page.getByRole('link', { name: 'Continue' }).click();
    assert((await page.locator('#email-status').textContent()) === 'confirmed', 'confirmed after the link');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    // A wrong password shows the API's detail.
    await logIn(page, example.base, 'ada', 'wrong password');
    await message(page, 'Invalid credentials');
    await logIn(page, example.base, 'ada', PASSWORD);
    await page.getByRole('heading', { name: 'Hello, ada' }).waitFor();
    await shot(page, example, '3-logged-in');
    await context.close();
  },

  // Two browsers, one at each address of the example: one ends the other's session, then logs
  // out everywhere.
  async endAnotherSession(browser, example) {
    const first = await browser.newContext({ userAgent: 'first-browser' });
    const second = await browser.newContext({ userAgent: 'second-browser' });
    const a = await first.newPage();
    const b = await second.newPage();
    await signUp(a, example, 'bea');
    // The page works at the listen address too.
    await logIn(b, example.alt, 'bea', PASSWORD);
    await b.getByRole('heading', { name: 'Hello, bea' }).waitFor();
    await a.reload();
    const rows = a.locator('#sessions tbody tr');
    await rows.nth(1).waitFor();
    assert((await rows.count()) === 2, 'two sessions listed');
    const other = a.locator('#sessions tbody tr', { hasText: 'second-browser' });
    await shot(a, example, '4-two-sessions');
    await other.getByRole('button', { name: /End the session/ }).click();
    await message(a, 'Session ended');
    await a.locator('#sessions tbody tr', { hasText: 'second-browser' }).waitFor({ state: 'detached' });
    // The ended session is logged out at once: its next page load finds no user.
    await b.reload();
    await b.getByRole('heading', { name: 'Welcome' }).waitFor();
    // Log in again there, then log out everywhere from the first browser.
    await logIn(b, example.alt, 'bea', PASSWORD);
    await b.getByRole('heading', { name: 'Hello, bea' }).waitFor();
    await a.reload();
    await a.getByRole('button', { name: 'Log out everywhere' }).click();
    await a.getByRole('heading', { name: 'Welcome' }).waitFor();
    await b.reload();
    await b.getByRole('heading', { name: 'Welcome' }).waitFor();
    await first.close();
    await second.close();
  },
};

Object.assign(flows, {
  // Forgot the password: the mail's link opens the landing page, which sets a new one; the old
  // password no longer works, the new one does, and the link works once.
  async forgotAndResetPassword(browser, example) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, example, 'cleo');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill('CLEO@example.com');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await message(page, 'If an account has this address');
    const reset = await example.link('/reset_password');
    await page.goto(reset);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    assert(!page.url().includes('token='), 'the token leaves the address bar');
    // The rules apply after a valid token, with the API's detail.
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password').fill('something else 1');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await message(page, 'Passwords mismatch');
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set the password' }).click();
    await message(page, 'Your password is changed');
    await shot(page, example, '5-password-reset');
    await logIn(page, example.base, 'cleo', PASSWORD);
    await message(page, 'Invalid credentials');
    await logIn(page, example.base, 'cleo', NEW_PASSWORD);
    await page.getByRole('heading', { name: 'Hello, cleo' }).waitFor();
    // The link a second time: refused.
    const again = await context.newPage();
    await again.goto(reset);
    await again.getByLabel('New password', { exact: true }).fill('yet another one 3');
    await again.getByLabel('Repeat the new password').fill('yet another one 3');
    await again.getByRole('button', { name: 'Set the password' }).click();
    await message(again, 'Invalid or expired token');
    await context.close();
  },

  // Change the password while logged in twice: this session continues, the other ends.
  async changePassword(browser, example) {
    const first = await browser.newContext();
    const second = await browser.newContext();
    const a = await first.newPage();
    const b = await second.newPage();
    await signUp(a, example, 'dora');
    await logIn(b, example.alt, 'dora', PASSWORD);
    await b.getByRole('heading', { name: 'Hello, dora' }).waitFor();
    await a.reload();
    await a.getByLabel('Current password').fill('not the password');
    await a.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await a.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await a.getByRole('button', { name: 'Change the password' }).click();
    await message(a, 'Wrong password');
    await a.getByLabel('Current password').fill(PASSWORD);
    await a.getByRole('button', { name: 'Change the password' }).click();
    await message(a, 'Password changed');
    await a.getByRole('heading', { name: 'Hello, dora' }).waitFor();
    await shot(a, example, '6-password-changed');
    await b.reload();
    await b.getByRole('heading', { name: 'Welcome' }).waitFor();
    await logIn(b, example.alt, 'dora', NEW_PASSWORD);
    await b.getByRole('heading', { name: 'Hello, dora' }).waitFor();
    await first.close();
    await second.close();
  },
});

// RFC 6238 (SHA-1, 6 digits, 30 s) computed here, apart from the server's crate.
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = digest[19] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

const nowStep = () => Math.floor(Date.now() / 1000 / 30);

Object.assign(flows, {
  // Enable TOTP from the otpauth:// URI, log out, log in with a code, see the same code
  // refused, then log in with a recovery code.
  async twoFactor(browser, example) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, example, 'tess');
    await page.locator('#enrol-form').getByLabel('Password').fill(PASSWORD);
    await page.locator('#enrol-form').getByLabel('Password').press('Enter');
    await page.locator('#totp-qr svg').waitFor();
    const uri = await page.locator('#totp-uri').textContent();
    assert(uri.startsWith('otpauth://totp/'), `an otpauth URI: ${uri}`);
    const secret = new URL(uri).searchParams.get('secret');
    assert(secret === (await page.locator('#totp-secret').textContent()), 'the secret shown is the URI\'s');
    await shot(page, example, '7-totp-enrolment');
    const confirm = page.locator('#totp-confirm-form');
    await confirm.getByLabel('Code from the app').fill(totp(secret, nowStep()));
    await confirm.getByLabel('Code from the app').press('Enter');
    await page.locator('#recovery-codes li').nth(9).waitFor();
    const codes = await page.locator('#recovery-codes li').allTextContents();
    assert(codes.length === 10, 'ten recovery codes');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.locator('#recovery-left', { hasText: '10' }).waitFor();
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    // The password, then the code (one step ahead: the confirmation used the current one).
    const code = totp(secret, nowStep() + 1);
    await logIn(page, example.base, 'tess', PASSWORD);
    await page.getByRole('heading', { name: 'Second factor' }).waitFor();
    await page.getByLabel('Code', { exact: true }).fill(code);
    await page.getByLabel('Code', { exact: true }).press('Enter');
    await page.getByRole('heading', { name: 'Hello, tess' }).waitFor();
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    // The same code a second time is refused with the API's detail.
    await logIn(page, example.base, 'tess', PASSWORD);
    await page.getByRole('heading', { name: 'Second factor' }).waitFor();
    await page.getByLabel('Code', { exact: true }).fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await message(page, 'Invalid code');
    await shot(page, example, '8-code-replayed');
    // A recovery code works.
    await page.getByLabel('Recovery code').fill(codes[0]);
    await page.getByLabel('Recovery code').press('Enter');
    await page.getByRole('heading', { name: 'Hello, tess' }).waitFor();
    await page.locator('#recovery-left', { hasText: '9' }).waitFor();
    await context.close();
  },
});
// The interactive API page (Swagger UI, vendored) lists every operation of the example's
// document, by name, and loads under the front end's Content-Security-Policy without a refusal.
flows.apiPage = async function apiPage(browser, example) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const refused = [];
  page.on('console', (entry) => {
    if (entry.type() === 'error') refused.push(entry.text());
  });
  await page.goto(`${example.base}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 20000 });
  const doc = await (await page.request.get(`${example.base}/api/users/openapi.json`)).json();
  const names = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  assert(names.includes('auth:login') && names.includes('auth:openapi'), 'the document names its routes');
  assert((await page.locator('.opblock').count()) === names.length, 'one block per operation');
  for (const name of ['auth:login', 'admin:kick', 'auth:search']) {
    await page.locator('.opblock', { hasText: name }).first().waitFor();
  }
  assert(refused.length === 0, `no errors in the console: ${refused.join(' | ')}`);
  await shot(page, example, '7-api-page');
  await context.close();
};

flows['social sign-in through an OpenID Connect provider'] = async (browser, example) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${example.base}/login`);
  await page.getByRole('link', { name: 'Continue with Acme' }).click();
  // The example, the provider and the example's callback: signed in as a new account.
  await page.getByRole('heading', { name: 'Hello, ada' }).waitFor();
  assert(new URL(page.url()).origin === example.base, `ended at ${page.url()}`);
  await shot(page, example, '7-social-signed-in');
  // A second sign-in reaches the same account, in another browser.
  const other = await browser.newContext();
  const again = await other.newPage();
  await again.goto(`${example.base}/login`);
  await again.getByRole('link', { name: 'Continue with Acme' }).click();
  await again.getByRole('heading', { name: 'Hello, ada' }).waitFor();
  // Login CSRF: a callback URL made for another browser lands on the login page with a
  // readable message, signed out.
  const attacker = await browser.newContext();
  const evil = await attacker.newPage();
  await evil.route('**/auth/acme/callback**', (route) => route.abort());
  let callback;
  evil.on('request', (request) => {
    if (request.url().includes('/auth/acme/callback')) callback = request.url();
  });
  await evil.goto(`${example.base}/auth/acme`).catch(() => {});
  assert(callback, 'the provider sent no callback');
  const victim = await (await browser.newContext()).newPage();
  await victim.goto(callback);
  await message(victim, 'another browser');
  await victim.getByRole('heading', { name: 'Welcome' }).waitFor();
  await shot(victim, example, '8-social-invalid-state');
  await context.close();
  await other.close();
  await attacker.close();
  await victim.context().close();
};

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ['axum', 'actix', 'rocket'];
  const provider = await startProvider();
  const browser = await launch();
  let failures = 0;
  let passed = 0;
  try {
    for (const name of names) {
      const example = await startExample(name, provider);
      try {
        for (const [flow, run] of Object.entries(flows)) {
          try {
            await run(browser, example);
            passed += 1;
            console.log(`ok   ${name} ${flow}`);
          } catch (error) {
            failures += 1;
            console.log(`FAIL ${name} ${flow}: ${error.stack || error}`);
          }
        }
      } finally {
        example.stop();
      }
    }
  } finally {
    await browser.close();
    provider.stop();
  }
  console.log(`browser flows: ${passed} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
