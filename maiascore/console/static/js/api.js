// The one way the console reaches the server: the public API, with the user's token.
// The token lives in this tab's sessionStorage (gone when the tab closes), never in localStorage.

const TOKEN_KEY = 'maiascore.jwt';
const AID_KEY = 'maiascore.aid';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get aid() { return sessionStorage.getItem(AID_KEY); },
  set aid(value) { if (value) sessionStorage.setItem(AID_KEY, String(value)); else sessionStorage.removeItem(AID_KEY); },
  user: null,
  groups: [],
  permissions: new Set(),
  signIn(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(AID_KEY);
    this.user = null;
    this.groups = [];
    this.permissions = new Set();
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.body = body;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export async function api(path, { method = 'GET', body, form, query, raw = false, noAid = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  if (!noAid && session.aid && !url.searchParams.has('aid')) url.searchParams.set('aid', session.aid);
  const headers = { Accept: raw ? 'application/octet-stream, application/json' : 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  const response = await fetch(url, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    if (response.status === 401 && session.token) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

// The permissions of each built-in role, as GET /v6/roles lists them (that endpoint needs
// Manage Users, so the page mirrors the table to know what not to offer; the server decides).
export const ROLE_PERMISSIONS = {
  'Account Admin': ['View Scores', 'Create Scores', 'View Trainings', 'Manage Trainings', 'View Reports',
    'Edit Reports', 'Edit reports for all users in account group', 'Manage Users'],
  'Regular User': ['View Scores', 'Create Scores', 'View Trainings', 'View Reports', 'Edit Reports'],
  'Read Only': ['View Scores', 'View Trainings', 'View Reports'],
};

export function can(permission) { return session.permissions.has(permission); }

export async function loadSession() {
  const groups = await api('/v6/account-groups', { noAid: true });
  session.groups = groups.accountGroups || [];
  const known = session.groups.some((g) => String(g.aid) === String(session.aid));
  if (!known) {
    const preferred = session.groups.find((g) => g.default) || session.groups.find((g) => g.current) || session.groups[0];
    session.aid = preferred ? preferred.aid : null;
  }
  session.user = await api('/users/me');
  session.permissions = new Set(ROLE_PERMISSIONS[session.user.role] || []);
}

export function describe(error) {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status})`;
  return `Something went wrong: ${error.message}`;
}
