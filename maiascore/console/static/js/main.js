// The console's shell: sign-in, the header, and a hash router that mounts one page at a time.
import { api, ApiError, describe, loadSession, session, whenUnauthorized } from './api.js';
import { clear, field, h, setError } from './dom.js';
import { ZONE } from './format.js';
import * as alerts from './alerts.js';
import * as dashboards from './dashboards.js';
import * as reports from './reports.js';
import * as trainings from './trainings.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let unmount = null;

const ROUTES = [
  [/^\/dashboards$/, 'dashboards', () => dashboards.list],
  [/^\/dashboards\/new$/, 'dashboards', () => dashboards.editor],
  [/^\/dashboards\/([^/]+)\/edit$/, 'dashboards', () => dashboards.editor],
  [/^\/dashboards\/([^/]+)$/, 'dashboards', () => dashboards.view],
  [/^\/snapshots\/([^/]+)$/, 'dashboards', () => dashboards.snapshot],
  [/^\/reports$/, 'reports', () => reports.list],
  [/^\/reports\/new$/, 'reports', () => reports.create],
  [/^\/reports\/([^/]+)$/, 'reports', () => reports.detail],
  [/^\/trainings$/, 'trainings', () => trainings.list],
  [/^\/trainings\/([^/]+)$/, 'trainings', () => trainings.detail],
  [/^\/models$/, 'models', () => trainings.models],
  [/^\/alerts$/, 'alerts', () => alerts.list],
];

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/dashboards';
  const [path, search] = raw.split('?');
  return { path, query: new URLSearchParams(search || '') };
}

async function route() {
  const focusWasInMain = main.contains(document.activeElement);
  if (unmount) { unmount(); unmount = null; }
  if (!session.token) { renderLogin(); return; }
  if (!session.user) {
    try { await loadSession(); } catch (error) { session.signOut(); renderLogin(error.message); return; }
    renderHeader();
  }
  const { path, query } = parseHash();
  document.getElementById('toast').textContent = '';
  const match = ROUTES.map(([re, section, page]) => [path.match(re), section, page]).find(([m]) => m);
  clear(main);
  for (const link of document.querySelectorAll('#nav a')) {
    if (match && link.dataset.section === match[1]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!match) {
    main.append(h('h1', { text: 'Not found' }), h('p', { text: 'This page does not exist. ' }, h('a', { href: '#/dashboards', text: 'Go to the dashboards' })));
    return;
  }
  const [m, , page] = match;
  try {
    unmount = (await page()(main, { id: m[1], query })) || null;
  } catch (error) {
    main.append(h('p', { class: 'error-state', role: 'alert', text: describe(error) }));
  }
  // Focus lost with the previous page (a sign-in button, a link in a list) goes to the new page's
  // content, so the next Tab starts there rather than at the top of the document.
  const focused = document.activeElement;
  if (focusWasInMain && (!focused || focused === document.body || !focused.isConnected)) main.focus({ preventScroll: true });
}

function renderHeader() {
  top.hidden = false;
  const who = document.getElementById('who');
  who.textContent = `${session.user.username} · ${session.user.role?.name ?? 'no role'}`;
  document.getElementById('zone').textContent = `Times in ${ZONE}`;
  const picker = document.getElementById('group-picker');
  const select = document.getElementById('group-select');
  clear(select);
  for (const group of session.groups) {
    select.append(h('option', { value: group.aid, text: `${group.accountGroupName || 'Group'} (aid ${group.aid})`, selected: String(group.aid) === String(session.aid) }));
  }
  picker.hidden = session.groups.length < 2;
}

function renderLogin(message) {
  top.hidden = true;
  clear(main);
  const identifier = h('input', { name: 'identifier', type: 'text', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { class: 'error', role: 'alert', text: message || '' });
  const form = h('form', { class: 'login card', novalidate: true },
    h('h1', { text: 'Sign in to MaiaScore' }),
    field('Email or username', identifier),
    field('Password', password),
    status,
    h('button', { type: 'submit', class: 'primary', text: 'Sign in' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setError(status, '');
    if (!identifier.value || !password.value) { status.textContent = 'Enter your email or username and your password.'; return; }
    try {
      const answer = await api('/auth/local', { method: 'POST', body: { identifier: identifier.value, password: password.value }, noAid: true });
      session.signIn(answer.jwt);
      session.user = null;
      if (!window.location.hash || window.location.hash === '#/login') window.location.hash = '#/dashboards';
      else route();
    } catch (error) {
      status.textContent = error instanceof ApiError ? error.message : describe(error);
    }
  });
  main.append(form);
  identifier.focus();
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  top.hidden = true;
  window.location.hash = '#/login';
  route();
});

document.getElementById('group-select').addEventListener('change', (event) => {
  session.aid = event.target.value;
  session.user = null;
  window.location.hash = '#/dashboards';
  route();
});

whenUnauthorized(() => {
  session.signOut();
  renderLogin('Your session has ended; sign in again.');
});

// The skip link moves focus to the page's content; following its #main would be read as a route.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);
route();
