// Datasets, trainings with their live progress and metrics, and the model registry.
import { api, ApiError, can, describe } from './api.js';
import { autoResize, horizontalBars, rocCurve } from './charts.js';
import { button, clear, confirmDialog, field, h, select, setError, toast } from './dom.js';
import { fmtBytes, fmtNum, fmtPct, fmtTime, ZONE } from './format.js';
import { drawHealth } from './health.js';

const MANAGE = 'Manage Trainings';
const RUNNING = new Set(['scheduled', 'queued', 'running']);

function statusBadge(status) {
  return h('span', { class: `status status-${status}`, text: status || '—' });
}

function progressBar(training) {
  const value = training.status === 'succeeded' ? 100 : (training.progress || 0);
  return h('span', { class: 'progress' },
    h('progress', { max: '100', value: String(value), 'aria-label': `Training progress ${value}%` }),
    h('span', { class: 'progress-text', text: `${value}%` }));
}

function uploadSection(onUploaded) {
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv' });
  const name = h('input', { type: 'text', name: 'name', maxlength: '200' });
  const target = h('input', { type: 'text', name: 'target', maxlength: '1000' });
  const drop = h('label', { class: 'dropzone', for: 'dataset-file' },
    h('strong', { text: 'Drop a CSV file here' }), ' or choose one: ', file,
    h('span', { class: 'chosen muted', 'aria-live': 'polite' }));
  file.id = 'dataset-file';
  const chosen = drop.querySelector('.chosen');
  let picked = null;
  const pick = (f) => { picked = f; chosen.textContent = f ? ` ${f.name} (${fmtBytes(f.size)})` : ''; };
  file.addEventListener('change', () => pick(file.files[0] || null));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); pick(e.dataTransfer.files[0] || null); });
  const error = h('p', { class: 'error', role: 'alert', id: 'upload-error' });
  const form = h('form', { class: 'upload', novalidate: true },
    drop, h('div', { class: 'grid' }, field('Name (default: the file name)', name), field('Target column (default: recognised by name)', target)),
    error, h('button', { type: 'submit', class: 'primary', text: 'Upload dataset' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    if (!picked) { error.textContent = 'Choose or drop a CSV file first.'; return; }
    const data = new FormData();
    data.append('file', picked, picked.name);
    if (name.value) data.append('name', name.value);
    if (target.value) data.append('target', target.value);
    try {
      const doc = await api('/datasets', { method: 'POST', form: data });
      toast(`Uploaded ${doc.name}: ${fmtNum(doc.rows)} rows.`);
      form.reset();
      pick(null);
      onUploaded(doc);
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : describe(err);
    }
  });
  return h('section', { 'aria-labelledby': 'upload-title' }, h('h2', { id: 'upload-title', text: 'Upload a dataset' }), form);
}

function datasetTable(datasets) {
  if (!datasets.length) return h('p', { class: 'empty-state', text: 'No datasets uploaded yet; trainings can use the bundled german-credit sample or the group\'s labelled reports.' });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list datasets' },
    h('caption', { class: 'sr-only', text: 'Datasets' }),
    h('thead', {}, h('tr', {}, ['Name', 'Rows', 'Target', 'Size', `Uploaded (${ZONE})`, 'Columns'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, datasets.map((d) => h('tr', { dataset: { datasetId: d.id } },
      h('td', { text: d.name }), h('td', { class: 'num', text: fmtNum(d.rows) }), h('td', { text: d.target || '—' }),
      h('td', { class: 'num', text: fmtBytes(d.size) }), h('td', { text: fmtTime(d.created_at) }),
      h('td', {}, h('details', {}, h('summary', { text: `${(d.columns || []).length} columns` }),
        h('ul', { class: 'columns-list' }, (d.columns || []).map((c) => h('li', {}, h('span', { text: c.name }), ' ', h('span', { class: `type type-${c.type}`, text: c.type })))))))))));
}

function launchSection(datasets, onLaunched) {
  const dataset = select([['german-credit', 'german-credit (bundled sample)'], ['reports', 'This group\'s labelled reports'], ...datasets.map((d) => [d.id, `${d.name} (${fmtNum(d.rows)} rows)`])], datasets.length ? datasets[0].id : 'german-credit', { name: 'dataset' });
  const target = h('input', { type: 'text', name: 'target' });
  const rounds = h('input', { type: 'number', name: 'num_boost_round', min: '1', max: '5000', value: '60' });
  const depth = h('input', { type: 'number', name: 'max_depth', min: '1', max: '16', value: '3' });
  const eta = h('input', { type: 'number', name: 'eta', min: '0.001', max: '1', step: 'any', value: '0.1' });
  const testSize = h('input', { type: 'number', name: 'testSize', min: '0.05', max: '0.5', step: 'any', value: '0.2' });
  const seed = h('input', { type: 'number', name: 'seed', min: '0', value: '42' });
  const activate = select([['if-better', 'If better than the active model'], ['always', 'Always'], ['never', 'Never (activate by hand)']], 'if-better', { name: 'activate' });
  const note = h('input', { type: 'text', name: 'note', maxlength: '1000' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'launch', novalidate: true },
    h('div', { class: 'grid' }, field('Dataset', dataset), field('Target column (default: the dataset\'s)', target),
      field('Boosting rounds', rounds), field('Max tree depth', depth), field('Learning rate (eta)', eta),
      field('Held-out share', testSize), field('Seed', seed), field('Activate the new model', activate), field('Note', note)),
    error, h('button', { type: 'submit', class: 'primary', text: 'Launch training' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const meta = { dataset: dataset.value, params: {}, activate: activate.value };
    if (target.value) meta.target = target.value;
    if (rounds.value) meta.params.num_boost_round = Number(rounds.value);
    if (depth.value) meta.params.max_depth = Number(depth.value);
    if (eta.value) meta.params.eta = Number(eta.value);
    if (testSize.value) meta.testSize = Number(testSize.value);
    if (seed.value) meta.seed = Number(seed.value);
    if (note.value) meta.note = note.value;
    try {
      const doc = await api('/trainings', { method: 'POST', body: { meta } });
      toast('Training launched.');
      onLaunched(doc);
    } catch (err) {
      const details = err instanceof ApiError && err.body && err.body.errors ? ` ${JSON.stringify(err.body.errors)}` : '';
      error.textContent = `${describe(err)}${details}`;
    }
  });
  return h('section', { 'aria-labelledby': 'launch-title' }, h('h2', { id: 'launch-title', text: 'Launch a training' }), form);
}

function trainingRows(trainings, names) {
  return trainings.map((t) => h('tr', { dataset: { trainingId: t.id, status: t.status } },
    h('td', {}, h('a', { href: `#/trainings/${encodeURIComponent(t.id)}`, text: fmtTime(t.created_at) })),
    h('td', {}, statusBadge(t.status), t.active ? h('span', { class: 'badge default', text: 'Active model' }) : null),
    h('td', {}, progressBar(t)),
    h('td', { text: t.version ? `v${t.version}` : '—' }),
    h('td', { class: 'num', text: fmtPct(t.accuracy) }),
    h('td', { class: 'num', text: fmtNum(t.meta && t.meta.metrics && t.meta.metrics.auc, 3) }),
    h('td', { text: (t.meta && (names.get(t.meta.dataset) || t.meta.dataset)) || '—' })));
}

export async function list(main) {
  main.append(h('h1', { text: 'Trainings' }));
  const datasetsBox = h('section', { 'aria-labelledby': 'datasets-title' }, h('h2', { id: 'datasets-title', text: 'Datasets' }));
  const launchBox = h('div');
  const tbody = h('tbody');
  const trainingsBox = h('section', { 'aria-labelledby': 'trainings-title' }, h('h2', { id: 'trainings-title', text: 'Trainings' }),
    h('div', { class: 'table-wrap' }, h('table', { class: 'list trainings' }, h('caption', { class: 'sr-only', text: 'Trainings, newest first' }),
      h('thead', {}, h('tr', {}, [`Created (${ZONE})`, 'Status', 'Progress', 'Model', 'Accuracy', 'AUC', 'Dataset'].map((t) => h('th', { scope: 'col', text: t })))), tbody)));
  let timer = null;
  let alive = true;
  const names = new Map();
  const refreshTrainings = async () => {
    clearTimeout(timer);
    try {
      const trainings = await api('/trainings', { query: { _sort: 'created_at:DESC', _limit: 50 } });
      if (!alive) return;
      clear(tbody).append(...(trainings.length ? trainingRows(trainings, names) : [h('tr', {}, h('td', { colspan: '7', class: 'empty-state', text: 'No trainings yet.' }))]));
      if (trainings.some((t) => RUNNING.has(t.status))) timer = setTimeout(refreshTrainings, 1000);
    } catch (error) {
      if (alive) toast(describe(error));
    }
  };
  const refreshDatasets = async () => {
    const datasets = await api('/datasets', { query: { _sort: 'created_at:DESC' } });
    for (const d of datasets) names.set(d.id, d.name);
    clear(datasetsBox).append(h('h2', { id: 'datasets-title', text: 'Datasets' }), datasetTable(datasets));
    if (can(MANAGE)) clear(launchBox).append(launchSection(datasets, () => refreshTrainings()));
  };
  if (can(MANAGE)) main.append(uploadSection(() => refreshDatasets()));
  main.append(datasetsBox, launchBox, trainingsBox);
  await refreshDatasets();
  await refreshTrainings();
  return () => { alive = false; clearTimeout(timer); };
}

function metricsList(metrics) {
  return h('dl', { class: 'facts metrics' }, [
    ['AUC', fmtNum(metrics.auc, 3)], ['Accuracy', fmtPct(metrics.accuracy)], ['Precision', fmtPct(metrics.precision)],
    ['MAE', fmtNum(metrics.mae, 3)], ['RMSE', fmtNum(metrics.rmse, 3)], ['Log loss', fmtNum(metrics.logloss, 3)],
  ].map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

function confusionTable(c) {
  if (!c) return h('p', { class: 'muted', text: 'No confusion matrix.' });
  return h('table', { class: 'confusion' }, h('caption', { text: 'Confusion matrix on the held-out rows (threshold 0.5)' }),
    h('thead', {}, h('tr', {}, h('td'), h('th', { scope: 'col', text: 'Predicted good' }), h('th', { scope: 'col', text: 'Predicted bad' }))),
    h('tbody', {},
      h('tr', {}, h('th', { scope: 'row', text: 'Actually good' }), h('td', { class: 'num hit', text: fmtNum(c.tp) }), h('td', { class: 'num miss', text: fmtNum(c.fn) })),
      h('tr', {}, h('th', { scope: 'row', text: 'Actually bad' }), h('td', { class: 'num miss', text: fmtNum(c.fp) }), h('td', { class: 'num hit', text: fmtNum(c.tn) }))));
}

async function download(trainingId, version) {
  try {
    const response = await api(`/trainings/${encodeURIComponent(trainingId)}/model`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', { href: url, download: `model-v${version}.ubj` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (error) { toast(describe(error)); }
}

async function activate(trainingId, version, rollback) {
  const ok = await confirmDialog(rollback ? 'Roll back the model' : 'Activate the model',
    `Model v${version} will score every new report of this account group from now on.`, rollback ? `Roll back to v${version}` : `Activate v${version}`);
  if (!ok) return false;
  try {
    await api(`/trainings/${encodeURIComponent(trainingId)}/activate`, { method: 'POST' });
    toast(`Model v${version} is now active.`);
    return true;
  } catch (error) { toast(describe(error)); return false; }
}

export async function detail(main, { id }) {
  const box = h('div', { class: 'training-detail' });
  main.append(box);
  let charts = [];
  const stopResize = autoResize(() => charts);
  let timer = null;
  let alive = true;
  const render = (t) => {
    for (const c of charts) c.dispose();
    charts = [];
    clear(box);
    box.dataset.status = t.status;
    box.append(h('div', { class: 'page-head' }, h('div', {},
      h('h1', { text: t.version ? `Training of model v${t.version}` : 'Training' }),
      h('p', { class: 'lead' }, statusBadge(t.status), t.active ? h('span', { class: 'badge default', text: 'Active model' }) : null, ` created ${fmtTime(t.created_at, true)}`)),
    h('a', { class: 'button', href: '#/trainings', text: 'All trainings' })));
    box.append(h('p', {}, progressBar(t)));
    if (t.error) box.append(h('p', { class: 'error-state', text: t.error }));
    const meta = t.meta || {};
    box.append(h('dl', { class: 'facts' }, [['Dataset', meta.dataset], ['Target', meta.target], ['Parameters', meta.params ? JSON.stringify(meta.params) : 'defaults'],
      ['Held-out share', meta.testSize], ['Activation', meta.activate], ['Note', meta.note], ['Started', fmtTime(t.startedAt, true)], ['Finished', fmtTime(t.finishedAt, true)]]
      .map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v ?? '—' })])));
    const metrics = meta.metrics;
    if (t.status === 'succeeded' && metrics) {
      const actions = h('div', { class: 'actions' },
        button('Download model', () => download(t.id, t.version)),
        can(MANAGE) && !t.active ? button(`Activate v${t.version}`, async () => { if (await activate(t.id, t.version, false)) load(); }, { class: 'primary' }) : null);
      box.append(actions, h('h2', { text: 'Held-out metrics' }), metricsList(metrics), confusionTable(metrics.confusion));
      // Drawn only when the API returns the curve; older trainings have none and show nothing.
      const roc = Array.isArray(metrics.roc) ? metrics.roc.filter((p) => p && Number.isFinite(p.fpr) && Number.isFinite(p.tpr)) : [];
      if (roc.length) {
        const section = h('section', { class: 'roc-section', 'aria-labelledby': 'roc-title' }, h('h2', { id: 'roc-title', text: 'ROC curve (held-out rows)' }));
        box.append(section);
        charts.push(rocCurve(section, roc, metrics.auc));
      }
      const importance = metrics.featureImportance || [];
      if (importance.length) {
        const section = h('section', { 'aria-labelledby': 'importance-title' }, h('h2', { id: 'importance-title', text: 'Feature importance (gain)' }));
        box.append(section);
        charts.push(horizontalBars(section, importance.map((f) => ({ label: f.feature, value: f.gain })), { valueName: 'Gain' }));
      }
      if (t.version) {
        const section = h('section', { class: 'model-health', 'aria-labelledby': 'health-title' }, h('h2', { id: 'health-title', text: `Health of model v${t.version} (last 7 days)` }));
        box.append(section);
        drawHealth(section, t.version).then((drawn) => { if (alive) charts.push(...drawn); }).catch((e) => toast(describe(e)));
      }
    }
  };
  const load = async () => {
    clearTimeout(timer);
    const t = await api(`/trainings/${encodeURIComponent(id)}`);
    if (!alive) return;
    render(t);
    if (RUNNING.has(t.status)) timer = setTimeout(() => load().catch((e) => toast(describe(e))), 1000);
  };
  await load();
  return () => { alive = false; clearTimeout(timer); stopResize(); for (const c of charts) c.dispose(); };
}

export async function models(main) {
  main.append(h('h1', { text: 'Model registry' }));
  const box = h('div');
  main.append(box);
  let charts = [];
  const stopResize = autoResize(() => charts);
  const load = async () => {
    for (const c of charts) c.dispose();
    charts = [];
    const list = await api('/models', { query: { _limit: 6 } });
    clear(box);
    if (!list.length) { box.append(h('p', { class: 'empty-state', text: 'No models yet: launch a training.' })); return; }
    const active = list.find((m) => m.active);
    const rows = [
      ['Status', (m) => (m.active ? h('span', { class: 'badge default', text: 'Active' }) : 'inactive')],
      [`Created (${ZONE})`, (m) => fmtTime(m.created_at)],
      ['Last activated', (m) => fmtTime(m.activated_at)],
      ['AUC', (m) => fmtNum(m.metrics.auc, 3)], ['Accuracy', (m) => fmtPct(m.metrics.accuracy)], ['Precision', (m) => fmtPct(m.metrics.precision)],
      ['MAE', (m) => fmtNum(m.metrics.mae, 3)], ['RMSE', (m) => fmtNum(m.metrics.rmse, 3)], ['Log loss', (m) => fmtNum(m.metrics.logloss, 3)],
      ['Top feature', (m) => ((m.metrics.featureImportance || [])[0] || {}).feature || '—'],
      ['Training', (m) => h('a', { href: `#/trainings/${encodeURIComponent(m.training)}`, text: 'details' })],
    ];
    const numericVersion = (m) => Number(m.version);
    box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'registry' },
      h('caption', { text: 'Versions side by side, newest first' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Version' }), list.map((m) => h('th', { scope: 'col', dataset: { version: m.version } , text: `v${m.version}` })))),
      h('tbody', {}, rows.map(([label, cell]) => h('tr', {}, h('th', { scope: 'row', text: label }), list.map((m) => { const v = cell(m); return h('td', {}, v instanceof Node ? v : String(v)); }))),
        h('tr', {}, h('th', { scope: 'row', text: 'Actions' }), list.map((m) => h('td', { class: 'actions' },
          button(`Download v${m.version}`, () => download(m.training, m.version)),
          can(MANAGE) && !m.active ? button(active && numericVersion(m) < numericVersion(active) ? `Roll back to v${m.version}` : `Activate v${m.version}`,
            async () => { if (await activate(m.training, m.version, active && numericVersion(m) < numericVersion(active))) load(); }, { class: 'primary' }) : null)))))));
    const withImportance = list.filter((m) => (m.metrics.featureImportance || []).length).slice(0, 2);
    if (withImportance.length) {
      const section = h('section', { 'aria-labelledby': 'importance-title' }, h('h2', { id: 'importance-title', text: `Feature importance of v${withImportance[0].version}` }));
      box.append(section);
      charts.push(horizontalBars(section, withImportance[0].metrics.featureImportance.map((f) => ({ label: f.feature, value: f.gain })), { valueName: 'Gain' }));
    }
  };
  await load();
  return () => { stopResize(); for (const c of charts) c.dispose(); };
}

export { setError };
