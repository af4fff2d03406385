// Score reports: the Strapi list with filters, paging and sorting; one report; a new report.
import { api, ApiError, can, describe, session } from './api.js';
import { horizontalBars, autoResize } from './charts.js';
import { button, clear, field, h, select, setError, toast } from './dom.js';
import { fmtNum, fmtPct, fmtTime, parseTime, ZONE } from './format.js';

const PAGE = 20;
const STATUSES = ['queued', 'processed', 'failed', 'waiting_for_model'];
const SETTLED = new Set(['processed', 'failed', 'waiting_for_model']);
const COLUMNS = [
  ['referenceId', 'Reference'], ['status', 'Status'], ['score', 'Score'], ['scoreProbability', 'Probability'],
  ['scoreVersion', 'Model version'], ['outcome', 'Outcome'], ['created_at', `Created (${ZONE})`],
];

function dateToIso(value, endOfDay) {
  if (!value) return '';
  const date = new Date(`${value}T${endOfDay ? '23:59:59' : '00:00:00'}`);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function statusBadge(status) {
  return h('span', { class: `status status-${status}`, text: status ? status.replace(/_/g, ' ') : '—' });
}

export async function list(main, { query }) {
  const q = Object.fromEntries(query.entries());
  const sort = q.sort || 'created_at:DESC';
  const start = Number(q.start || 0);
  main.append(h('div', { class: 'page-head' }, h('h1', { text: 'Score reports' }),
    can('Create Scores') ? h('a', { class: 'button primary', href: '#/reports/new', text: 'New report' }) : null));

  const status = select([['', 'Any status'], ...STATUSES.map((s) => [s, s.replace(/_/g, ' ')])], q.status, { name: 'status' });
  const scoreMin = h('input', { type: 'number', name: 'scoreMin', value: q.scoreMin || '', step: '1' });
  const scoreMax = h('input', { type: 'number', name: 'scoreMax', value: q.scoreMax || '', step: '1' });
  const version = h('input', { type: 'text', name: 'version', value: q.version || '', size: '6' });
  const reference = h('input', { type: 'search', name: 'reference', value: q.reference || '' });
  const from = h('input', { type: 'date', name: 'from', value: q.from || '' });
  const to = h('input', { type: 'date', name: 'to', value: q.to || '' });
  const form = h('form', { class: 'filters', role: 'search' },
    field('Status', status), field('Score at least', scoreMin), field('Score at most', scoreMax),
    field('Model version', version), field('Reference contains', reference),
    field(`Created from (${ZONE})`, from), field('Created until', to),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Apply filters' }),
      h('a', { class: 'button', href: '#/reports', text: 'Clear' })));
  const go = (changes) => {
    const next = new URLSearchParams({ ...q, ...changes });
    for (const [k, v] of [...next.entries()]) if (v === '' || v === undefined) next.delete(k);
    window.location.hash = `#/reports?${next.toString()}`;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ status: status.value, scoreMin: scoreMin.value, scoreMax: scoreMax.value, version: version.value.trim(), reference: reference.value.trim(), from: from.value, to: to.value, start: '' });
  });
  main.append(form);

  const filters = {
    status: q.status, score_gte: q.scoreMin, score_lte: q.scoreMax, scoreVersion: q.version,
    referenceId_contains: q.reference, created_at_gte: dateToIso(q.from, false), created_at_lte: dateToIso(q.to, true),
  };
  const [reports, total] = await Promise.all([
    api('/reports', { query: { ...filters, _sort: sort, _start: start, _limit: PAGE } }),
    api('/reports/count', { query: filters }),
  ]);
  const [sortField, sortDir] = sort.split(':');
  const head = h('tr', {}, COLUMNS.map(([key, label]) => {
    const active = key === sortField;
    const nextDir = active && sortDir === 'ASC' ? 'DESC' : 'ASC';
    return h('th', { scope: 'col', 'aria-sort': active ? (sortDir === 'ASC' ? 'ascending' : 'descending') : 'none' },
      button(`${label}${active ? (sortDir === 'ASC' ? ' ▲' : ' ▼') : ''}`, () => go({ sort: `${key}:${nextDir}`, start: '' }), { class: 'sort', 'aria-label': `Sort by ${label}, ${nextDir === 'ASC' ? 'ascending' : 'descending'}` }));
  }));
  const rows = reports.map((r) => h('tr', { dataset: { reportId: r.id } },
    h('td', {}, h('a', { href: `#/reports/${encodeURIComponent(r.id)}`, text: r.referenceId || r.id })),
    h('td', {}, statusBadge(r.status)),
    h('td', { class: 'num', text: fmtNum(r.score) }),
    h('td', { class: 'num', text: fmtPct(r.scoreProbability) }),
    h('td', { text: r.scoreVersion || '—' }),
    h('td', { text: r.outcome || '—' }),
    h('td', { text: fmtTime(r.created_at) })));
  main.append(h('div', { class: 'table-wrap' }, h('table', { class: 'list reports' },
    h('caption', { class: 'sr-only', text: 'Score reports' }), h('thead', {}, head),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: String(COLUMNS.length), class: 'empty-state', text: 'No report matches these filters.' }))))));
  const last = Math.min(start + reports.length, total);
  main.append(h('nav', { class: 'pager', 'aria-label': 'Pages' },
    button('Previous page', () => go({ start: String(Math.max(0, start - PAGE)) }), { disabled: start === 0 }),
    h('span', { text: total ? `${fmtNum(start + 1)}–${fmtNum(last)} of ${fmtNum(total)}` : '0 reports' }),
    button('Next page', () => go({ start: String(start + PAGE) }), { disabled: last >= total })));
  return null;
}

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v instanceof Node ? v : String(v ?? '—'))]));
}

export async function detail(main, { id }) {
  let report = await api(`/reports/${encodeURIComponent(id)}`);
  const box = h('div', { class: 'report-detail' });
  main.append(box);
  let charts = [];
  const stopResize = autoResize(() => charts);
  let alive = true;
  const mayEdit = () => can('Create Scores') && (session.user.role?.name === 'Account Admin'
    || (report.users_permissions_user && String(report.users_permissions_user.id) === String(session.user.id)));

  const render = () => {
    for (const c of charts) c.dispose();
    charts = [];
    clear(box);
    box.dataset.status = report.status;
    box.append(h('div', { class: 'page-head' }, h('div', {},
      h('h1', {}, 'Report ', h('span', { class: 'reference', text: report.referenceId || report.id })),
      h('p', { class: 'lead' }, statusBadge(report.status), ` created ${fmtTime(report.created_at, true)}`)),
    h('a', { class: 'button', href: '#/reports', text: 'All reports' })));
    if (!SETTLED.has(report.status)) box.append(h('p', { class: 'live', role: 'status' }, h('progress', { 'aria-label': 'Scoring' }), ' Scoring… this page updates when the score arrives.'));
    box.append(dl([
      ['Score', h('span', { class: 'score', text: fmtNum(report.score) })],
      ['Probability (good)', fmtPct(report.scoreProbability)],
      ['Confidence', fmtPct(report.scoreConfidence)],
      ['Model version', report.scoreVersion || '—'],
      ['Outcome', report.outcome || 'not recorded'],
      ['Type', report.type],
      ['Owner', report.users_permissions_user ? report.users_permissions_user.username : '—'],
      ['Processed', fmtTime(report.processed_at, true)],
    ]));
    if (report.error) box.append(h('p', { class: 'error-state', text: report.error }));
    const warnings = report.warnings || [];
    box.append(h('section', { 'aria-labelledby': 'warnings-title' }, h('h2', { id: 'warnings-title', text: 'Warnings' }),
      warnings.length ? h('ul', { class: 'warnings' }, warnings.map((w) => h('li', { text: typeof w === 'string' ? w : JSON.stringify(w) }))) : h('p', { class: 'muted', text: 'None.' })));
    const explanation = report.explanation || [];
    const expl = h('section', { class: 'explanation', 'aria-labelledby': 'explanation-title' }, h('h2', { id: 'explanation-title', text: 'Explanation: contributions to the score' }));
    box.append(expl);
    if (explanation.length) {
      charts.push(horizontalBars(expl, explanation.map((e) => ({ label: e.feature, value: e.contribution, detail: `value: ${e.value}` })), { valueName: 'Contribution (log-odds)', signed: true }));
      expl.append(h('details', {}, h('summary', { text: 'As a table' }), h('table', {},
        h('thead', {}, h('tr', {}, ['Feature', 'Value', 'Contribution'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, explanation.map((e) => h('tr', {}, h('td', { text: e.feature }), h('td', { text: e.value }), h('td', { class: 'num', text: fmtNum(e.contribution, 4) })))))));
    } else {
      expl.append(h('p', { class: 'muted', text: SETTLED.has(report.status) ? 'No explanation for this report.' : 'The explanation comes with the score.' }));
    }
    const features = report.features || {};
    box.append(h('details', { class: 'features' }, h('summary', { text: `Features (${Object.keys(features).length})` }),
      h('table', {}, h('tbody', {}, Object.entries(features).map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: v })))))));
    if (mayEdit()) box.append(actions());
  };

  const actions = () => {
    const outcome = select([['', 'Choose…'], ['good', 'good'], ['bad', 'bad']], report.outcome || '', { name: 'outcome' });
    const outcomeField = field('Outcome', outcome);
    const form = h('form', { class: 'inline' }, outcomeField, h('button', { type: 'submit', text: 'Record outcome' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      setError(outcomeField, '');
      if (!outcome.value) { setError(outcomeField, 'Choose good or bad.'); return; }
      try {
        report = await api(`/reports/${encodeURIComponent(report.id)}`, { method: 'PUT', body: { outcome: outcome.value } });
        toast(`Outcome ${report.outcome} recorded.`);
        render();
      } catch (error) { setError(outcomeField, describe(error)); }
    });
    return h('section', { class: 'report-actions', 'aria-label': 'Actions' }, form,
      button('Rescore with the active model', async () => {
        try {
          report = await api(`/reports/${encodeURIComponent(report.id)}/rescore`, { method: 'POST' });
          render();
          follow();
        } catch (error) { toast(describe(error)); }
      }));
  };

  // Follows the report until it settles: ?wait=10 answers as soon as it is scored.
  const follow = async () => {
    while (alive && !SETTLED.has(report.status)) {
      try {
        report = await api(`/reports/${encodeURIComponent(report.id)}`, { query: { wait: 10 } });
      } catch (error) {
        toast(describe(error));
        return;
      }
      if (alive) render();
    }
  };
  render();
  follow();
  return () => { alive = false; stopResize(); for (const c of charts) c.dispose(); };
}

export async function create(main) {
  main.append(h('h1', { text: 'New score report' }));
  let model;
  try {
    model = await api('/models/active');
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      main.append(h('p', { class: 'empty-state', text: `${error.message}. Reports posted now wait for a model.` }));
      model = { schema: { features: [] } };
    } else throw error;
  }
  const reference = h('input', { type: 'text', name: 'referenceId', maxlength: '200' });
  const inputs = [];
  const fields = (model.schema.features || []).map((f) => {
    let control;
    if (f.type === 'categorical') {
      control = select([['', '(missing)'], ...(f.categories || []).map((c) => [c, c])], '', { name: f.name });
    } else {
      control = h('input', { type: 'number', name: f.name, step: 'any' });
    }
    inputs.push([f, control]);
    const hint = f.type === 'numeric' && f.min !== undefined ? `from ${fmtNum(f.min)} to ${fmtNum(f.max)} in the training data` : null;
    return field(f.name.replace(/_/g, ' '), control, hint);
  });
  const formError = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'report-form', novalidate: true },
    field('Reference', reference, 'Your own identifier for this applicant'),
    h('fieldset', {}, h('legend', { text: `Features (model version ${model.version || 'none'})` }), h('div', { class: 'grid' }, fields)),
    formError,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Score this report' }), h('a', { class: 'button', href: '#/reports', text: 'Cancel' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.textContent = '';
    const features = {};
    for (const [f, control] of inputs) {
      if (control.value === '') continue;
      features[f.name] = f.type === 'numeric' ? Number(control.value) : control.value;
    }
    try {
      const doc = await api('/reports', { method: 'POST', body: { referenceId: reference.value || null, features } });
      window.location.hash = `#/reports/${encodeURIComponent(doc.id)}`;
    } catch (error) {
      formError.textContent = describe(error);
    }
  });
  main.append(form);
  return null;
}

export { parseTime };
