// The authx demo front end: plain JavaScript calling the authx API with fetch and cookies.
// Every error shown is the API's own `detail`. No build step, no dependency.
'use strict';

const state = { config: null, user: null };

// ----- small DOM helpers (text is always set as text, never as HTML) -----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function field(label, name, type, extra) {
  return h('label', {}, label, h('input', { name, type, required: true, ...extra }));
}

function say(text, kind) {
  const box = h('div', { class: `message ${kind || ''}`, text });
  document.getElementById('messages').append(box);
  setTimeout(() => box.remove(), 6000);
}

const sayError = (result) => say(result.data && result.data.detail ? result.data.detail : `Request failed (${result.status})`, 'error');

// A form whose submit handler gets its values; the button is disabled while it runs.
function form(fields, buttonText, onSubmit, extra) {
  const button = h('button', { type: 'submit', text: buttonText });
  const el = h('form', extra || {}, fields, button);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await onSubmit(Object.fromEntries(new FormData(el)), el);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { text: title }), children);
}

// ----- the API -----

async function parse(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { detail: text };
  }
}

async function raw(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(state.config.api + path, init);
  return { ok: response.ok, status: response.status, data: await parse(response) };
}

// Calls the API; an access token that expired (401) is renewed once with the refresh cookie.
async function api(method, path, body) {
  const result = await raw(method, path, body);
  const anonymous = ['/login', '/login/2fa', '/register', '/token/refresh', '/forgot_password'];
  if (result.status === 401 && !anonymous.includes(path) && !path.startsWith('/password/')) {
    const refreshed = await raw('POST', '/token/refresh');
    if (refreshed.ok) return raw(method, path, body);
  }
  return result;
}

async function loadUser() {
  const token = await api('POST', '/token');
  state.user = token.ok ? token.data : null;
  if (state.user) {
    const confirm = await api('GET', '/confirm');
    if (confirm.ok) Object.assign(state.user, { email: confirm.data.email, confirmed: confirm.data.confirmed });
  }
  renderNav();
}

// ----- navigation -----

function go(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function link(path, text) {
  return h('a', {
    href: path,
    onclick: (event) => {
      event.preventDefault();
      go(path);
    },
    text,
  });
}

function renderNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (state.user) {
    nav.append(
      h('span', { text: `Signed in as ${state.user.username}` }),
      h('button', { class: 'secondary', type: 'button', onclick: logout, text: 'Log out' }),
    );
  } else {
    nav.append(link('/login', 'Log in'), link('/signup', 'Sign up'));
  }
}

function show(...sections) {
  const main = document.getElementById('main');
  // Cards of routers that are not mounted come back as null.
  main.replaceChildren(...sections.filter(Boolean));
  const heading = main.querySelector('h1, h2');
  if (heading) heading.setAttribute('tabindex', '-1');
  (heading || main).focus();
}

async function render() {
  const params = new URLSearchParams(location.search);
  switch (location.pathname) {
    case '/confirm':
      return confirmView(params.get('token'));
    case '/reset_password':
      return resetView(params.get('token'));
    case '/forgot_password':
      return forgotView();
    case '/signup':
      return state.user ? go('/', true) : signupView();
    case '/login':
      if (state.user) return go('/', true);
      // A social sign-in of an account with a second factor lands here with the challenge.
      if (params.get('error') === 'second_factor_required') return secondFactorView();
      return loginView(params.get('error'));
    default:
      return state.user ? accountView() : loginView(null);
  }
}

// ----- signed out -----

function socialButtons() {
  const providers = state.config.providers || [];
  if (!providers.length) return null;
  return h(
    'div',
    { class: 'social' },
    providers.map((p) =>
      h('a', {
        class: 'button-link',
        href: `${state.config.social}/${encodeURIComponent(p.name)}?redirect=/`,
        text: `Continue with ${p.label}`,
      })),
  );
}

const SOCIAL_ERRORS = {
  invalid_state: 'The sign-in expired or came from another browser. Please try again.',
  provider_error: 'The provider refused the sign-in.',
  email_unverified: 'The provider has not verified your email address.',
  email_exists: 'An account with this email exists. Log in with your password; once its address is confirmed, the provider can sign you in too.',
  user_banned: 'User is banned',
};

function loginView(error) {
  const sections = [];
  if (error) say(SOCIAL_ERRORS[error] || `Sign-in failed (${error})`, 'error');
  sections.push(
    card(
      'Log in',
      form(
        [field('Username or email', 'login', 'text', { autocomplete: 'username', autofocus: true }),
          field('Password', 'password', 'password', { autocomplete: 'current-password' })],
        'Log in',
        async (values) => {
          const result = await raw('POST', '/login', values);
          if (result.ok) return signedIn();
          if (result.data && result.data.code === 'second_factor_required') return secondFactorView();
          sayError(result);
        },
        { id: 'login-form' },
      ),
      h('p', {}, link('/forgot_password', 'Forgot your password?'), ' · ', link('/signup', 'Create an account')),
      socialButtons(),
    ),
  );
  show(h('h1', { text: 'Welcome' }), ...sections);
}

async function signedIn() {
  await loadUser();
  say('Signed in', 'ok');
  go('/', true);
}

function secondFactorView() {
  show(
    h('h1', { text: 'Second factor' }),
    card(
      'Enter the code of your authenticator app',
      form([field('Code', 'code', 'text', { inputmode: 'numeric', autocomplete: 'one-time-code', autofocus: true })],
        'Verify', async (values) => {
          const result = await raw('POST', '/login/2fa', { code: values.code.trim() });
          if (result.ok) return signedIn();
          sayError(result);
          if (result.data && result.data.code !== 'invalid_code') go('/login', true);
        }, { id: 'second-factor-form' }),
      h('p', { class: 'muted', text: 'Lost your device? Use one of your recovery codes instead:' }),
      form([field('Recovery code', 'recovery_code', 'text', { autocomplete: 'off' })], 'Use recovery code', async (values) => {
        const result = await raw('POST', '/login/2fa', { recovery_code: values.recovery_code.trim() });
        if (result.ok) return signedIn();
        sayError(result);
      }, { id: 'recovery-form' }),
    ),
  );
}

function signupView() {
  show(
    h('h1', { text: 'Create an account' }),
    card(
      'Sign up',
      form(
        [field('Email', 'email', 'email', { autocomplete: 'email', autofocus: true }),
          field('Username', 'username', 'text', { autocomplete: 'username' }),
          field('Password', 'password1', 'password', { autocomplete: 'new-password' }),
          field('Repeat the password', 'password2', 'password', { autocomplete: 'new-password' })],
        'Sign up',
        async (values) => {
          const result = await raw('POST', '/register', values);
          if (!result.ok) return sayError(result);
          await loadUser();
          say('Account created: a confirmation mail is on its way', 'ok');
          go('/', true);
        },
        { id: 'signup-form' },
      ),
      socialButtons(),
    ),
  );
}

function forgotView() {
  show(
    h('h1', { text: 'Forgot your password?' }),
    card(
      'We mail you a link to choose a new one',
      form([field('Email', 'email', 'email', { autocomplete: 'email', autofocus: true })], 'Send the link', async (values) => {
        const result = await raw('POST', '/forgot_password', values);
        if (!result.ok) return sayError(result);
        say('If an account has this address, a link is on its way', 'ok');
        go('/login');
      }, { id: 'forgot-form' }),
    ),
  );
}

// ----- the mail links' landing pages -----

// The token leaves the address bar at once (history, screenshots); the page keeps it.
function takeToken(token) {
  history.replaceState(null, '', location.pathname);
  return token;
}

async function confirmView(token) {
  takeToken(token);
  show(h('h1', { text: 'Confirming your email' }), h('p', { id: 'confirm-result', text: 'One moment…' }));
  const result = token ? await raw('POST', `/confirm/${encodeURIComponent(token)}`) : { ok: false, status: 0, data: { detail: 'The link has no token' } };
  const text = result.ok ? 'Your email is confirmed.' : (result.data && result.data.detail) || 'The link did not work.';
  if (!result.ok) sayError(result);
  await loadUser();
  show(h('h1', { text: result.ok ? 'Email confirmed' : 'Confirmation failed' }),
    h('p', { id: 'confirm-result', text }), h('p', {}, link('/', 'Continue')));
}

function resetView(token) {
  takeToken(token);
  show(
    h('h1', { text: 'Choose a new password' }),
    card(
      'New password',
      form(
        [field('New password', 'password1', 'password', { autocomplete: 'new-password', autofocus: true }),
          field('Repeat the new password', 'password2', 'password', { autocomplete: 'new-password' })],
        'Set the password',
        async (values) => {
          const result = await raw('POST', `/password/${encodeURIComponent(token || '')}`, values);
          if (!result.ok) return sayError(result);
          say('Your password is changed: log in with it', 'ok');
          go('/login', true);
        },
        { id: 'reset-form' },
      ),
    ),
  );
}

// ----- signed in -----

async function accountView() {
  const user = state.user;
  const profile = card(
    'Your account',
    h('p', {}, 'Username: ', h('strong', { text: user.username })),
    h('p', {}, 'Email: ', h('strong', { text: user.email || '' }), ' ',
      h('span', { class: 'badge', id: 'email-status', text: user.confirmed ? 'confirmed' : 'not confirmed' })),
    user.confirmed ? null : h('button', {
      type: 'button', class: 'secondary', id: 'send-confirmation', text: 'Send the confirmation mail again',
      onclick: async () => {
        const result = await api('POST', '/confirm');
        if (result.ok) say('A confirmation mail is on its way', 'ok');
        else sayError(result);
      },
    }),
  );
  show(h('h1', { text: `Hello, ${user.username}` }), profile, await passwordCard(), await twoFactorCard(), await sessionsCard());
}

async function passwordCard() {
  const status = await api('GET', '/password');
  if (status.status === 404) return null;
  if (status.ok && status.data.status === 'set') {
    return card('Set a password', h('p', { class: 'muted', text: 'Your account has no password yet.' }),
      form([field('Password', 'password1', 'password', { autocomplete: 'new-password' }),
        field('Repeat the password', 'password2', 'password', { autocomplete: 'new-password' })], 'Set the password', async (values, el) => {
        const result = await api('POST', '/password', values);
        if (!result.ok) return sayError(result);
        say('Password set', 'ok');
        el.reset();
        render();
      }, { id: 'set-password-form' }));
  }
  return card('Change your password',
    form([field('Current password', 'old_password', 'password', { autocomplete: 'current-password' }),
      field('New password', 'password1', 'password', { autocomplete: 'new-password' }),
      field('Repeat the new password', 'password2', 'password', { autocomplete: 'new-password' })], 'Change the password', async (values, el) => {
      const result = await api('PUT', '/password', values);
      if (!result.ok) return sayError(result);
      say('Password changed: your other sessions are logged out', 'ok');
      el.reset();
      render();
    }, { id: 'change-password-form' }));
}

async function twoFactorCard() {
  const status = await api('GET', '/2fa');
  if (!status.ok) return null;
  if (status.data.enabled) {
    return card('Two-factor authentication',
      h('p', {}, 'Enabled. Recovery codes left: ', h('strong', { id: 'recovery-left', text: String(status.data.recovery_codes_left) })),
      form([field('Password', 'password', 'password', { autocomplete: 'current-password' }),
        field('Code (app or recovery)', 'code', 'text', { autocomplete: 'one-time-code' })], 'New recovery codes', async (values) => {
        const result = await api('POST', '/2fa/recovery_codes', values);
        if (!result.ok) return sayError(result);
        showRecoveryCodes(result.data.recovery_codes);
      }, { id: 'regenerate-form' }),
      form([field('Password', 'password', 'password', { autocomplete: 'current-password' }),
        field('Code (app or recovery)', 'code', 'text', { autocomplete: 'one-time-code' })], 'Turn off', async (values) => {
        const result = await api('DELETE', '/2fa', values);
        if (!result.ok) return sayError(result);
        say('Two-factor authentication is off', 'ok');
        render();
      }, { id: 'disable-2fa-form' }));
  }
  const area = h('div', { id: 'totp-enrolment' });
  area.append(form([field('Password', 'password', 'password', { autocomplete: 'current-password' })], 'Set up an authenticator app', async (values) => {
    const result = await api('POST', '/2fa/totp', values);
    if (!result.ok) return sayError(result);
    area.replaceChildren(await enrolment(result.data));
  }, { id: 'enrol-form' }));
  return card('Two-factor authentication', h('p', { class: 'muted', text: 'Off. Add a second step to your logins with an authenticator app.' }), area);
}

async function enrolment({ secret, otpauth_uri }) {
  const qr = h('div', { class: 'qr', id: 'totp-qr', role: 'img', 'aria-label': 'QR code of the authenticator setup link' });
  const response = await fetch('/demo/qr', {
    method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: otpauth_uri }),
  });
  if (response.ok) {
    // The SVG is made by the example server from the link alone; it holds no script.
    qr.append(new DOMParser().parseFromString(await response.text(), 'image/svg+xml').documentElement);
  }
  return h('div', {},
    h('p', { text: 'Scan this code with your authenticator app, or type the secret:' }),
    qr,
    h('p', {}, h('code', { class: 'secret', id: 'totp-secret', text: secret })),
    h('p', { class: 'muted' }, h('code', { id: 'totp-uri', text: otpauth_uri })),
    form([field('Code from the app', 'code', 'text', { inputmode: 'numeric', autocomplete: 'one-time-code' })], 'Turn on', async (values) => {
      const result = await api('POST', '/2fa/totp/confirm', { code: values.code.trim() });
      if (!result.ok) return sayError(result);
      say('Two-factor authentication is on', 'ok');
      showRecoveryCodes(result.data.recovery_codes);
    }, { id: 'totp-confirm-form' }));
}

function showRecoveryCodes(codes) {
  show(h('h1', { text: 'Your recovery codes' }),
    card('Keep them somewhere safe', h('p', { class: 'muted', text: 'Each works once, instead of a code from your app. They are shown only now.' }),
      h('ul', { class: 'codes', id: 'recovery-codes' }, codes.map((c) => h('li', { text: c }))),
      h('button', { type: 'button', onclick: () => render(), text: 'Done' })));
}

async function sessionsCard() {
  const result = await api('GET', '/sessions');
  if (!result.ok) return null;
  const rows = result.data.map((s) =>
    h('tr', { 'data-session': s.id },
      h('td', { text: new Date(s.created_at * 1000).toLocaleString() }),
      h('td', { text: new Date(s.last_seen_at * 1000).toLocaleString() }),
      h('td', { text: s.ip }),
      h('td', { class: 'agent', text: s.user_agent || '—' }),
      h('td', {}, s.current ? h('span', { class: 'badge', text: 'this session' }) : h('button', {
        type: 'button', class: 'secondary', text: 'End', 'aria-label': `End the session from ${s.ip}`,
        onclick: async () => {
          const ended = await api('DELETE', `/sessions/${encodeURIComponent(s.id)}`);
          if (!ended.ok) return sayError(ended);
          say('Session ended', 'ok');
          render();
        },
      }))));
  return card('Your sessions',
    h('table', { id: 'sessions' },
      h('thead', {}, h('tr', {}, ['Opened', 'Last seen', 'IP', 'Browser', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows)),
    h('p', { class: 'row' },
      h('button', {
        type: 'button', class: 'secondary', id: 'revoke-others', text: 'Log out all other sessions',
        onclick: async () => {
          const r = await api('POST', '/sessions/revoke_others');
          if (!r.ok) return sayError(r);
          say('Other sessions ended', 'ok');
          render();
        },
      }),
      h('button', {
        type: 'button', class: 'danger', id: 'logout-all', text: 'Log out everywhere',
        onclick: async () => {
          const r = await api('POST', '/logout_all');
          if (!r.ok) return sayError(r);
          state.user = null;
          renderNav();
          say('Every session ended', 'ok');
          go('/login', true);
        },
      })));
}

async function logout() {
  const result = await raw('POST', '/logout');
  if (!result.ok) return sayError(result);
  state.user = null;
  renderNav();
  say('Logged out', 'ok');
  go('/login', true);
}

// ----- start -----

async function start() {
  const response = await fetch('/config.json', { credentials: 'same-origin' });
  state.config = await response.json();
  document.getElementById('api-prefix').textContent = state.config.api;
  window.addEventListener('popstate', () => render());
  // The landing pages do their own work before anyone is known.
  if (!['/confirm', '/reset_password'].includes(location.pathname)) await loadUser();
  else renderNav();
  await render();
}

start().catch((error) => say(`The demo could not start: ${error}`, 'error'));
