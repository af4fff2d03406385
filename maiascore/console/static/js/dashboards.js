// Dashboards: the group's v6 reports, each widget drawn from its data endpoint; the editor; snapshots.
import { api, ApiError, can, describe, session } from './api.js';
import { autoResize, binLabel, drawWidget, metricLabel, NUMBER } from './charts.js';
import { button, clear, confirmDialog, field, h, select, setError, toast } from './dom.js';
import { fmtDuration, fmtTime, localInputToUtc, parseTime, ZONE } from './format.js';
import { rulesByWidget, ruleBadges } from './alerts.js';
import { drawHealth } from './health.js';

const EDIT = 'Edit Reports';
const EDIT_ALL = 'Edit reports for all users in account group';

// The editor's whole vocabulary (types, data sources, metrics, groupings, filter values, measures,
// visual modes) comes from GET /v6/widget-options: what the server accepts, never a copy of it.
let optionsAnswer = null;
export function widgetOptions() {
  if (!optionsAnswer) optionsAnswer = api('/v6/widget-options').catch((error) => { optionsAnswer = null; throw error; });
  return optionsAnswer;
}
const MODE_LABELS = { Full: 'Full width', 'Half screen': 'Half width' };
const WINDOWS = [['1h', 'Last hour'], ['6h', 'Last 6 hours'], ['12h', 'Last 12 hours'], ['1d', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'From – to…']];
const REFRESH = [['0', 'Off'], ['30', 'Every 30 s'], ['60', 'Every minute'], ['300', 'Every 5 minutes']];
const WINDOW_SECONDS = { '1h': 3600, '6h': 21600, '12h': 43200, '1d': 86400, '7d': 604800, '30d': 2592000 };

const viewState = { window: '1d', from: '', to: '', refresh: '60' };

export function canEdit(report) {
  if (!report || report.isBuiltIn || !can(EDIT)) return false;
  return can(EDIT_ALL) || String(report.createdBy) === String(session.user.id);
}

function badges(report) {
  return h('span', { class: 'badges' },
    report.isBuiltIn ? h('span', { class: 'badge builtin', text: 'Built-in' }) : null,
    report.isDefaultForUser ? h('span', { class: 'badge default', text: 'My default' }) : null,
    report.isDefaultForAccount ? h('span', { class: 'badge default', text: 'Group default' }) : null);
}

async function deleteReport(report) {
  if (!await confirmDialog('Delete dashboard', `Delete “${report.title}” and its widgets? Its snapshots stay.`, 'Delete')) return false;
  try {
    await api(`/v6/reports/${encodeURIComponent(report.reportId)}/delete`, { method: 'POST' });
    toast(`Deleted “${report.title}”.`);
    return true;
  } catch (error) {
    toast(describe(error));
    return false;
  }
}

export async function list(main) {
  main.append(h('div', { class: 'page-head' }, h('h1', { text: 'Dashboards' }),
    can(EDIT) ? h('a', { class: 'button primary', href: '#/dashboards/new', text: 'New dashboard' }) : null));
  const reports = await api('/v6/reports');
  if (!reports.length) {
    main.append(h('p', { class: 'empty-state', text: 'This account group has no dashboards yet.' }));
    return null;
  }
  const rows = reports.map((report) => h('tr', { dataset: { reportId: report.reportId } },
    h('td', {}, h('a', { href: `#/dashboards/${encodeURIComponent(report.reportId)}`, text: report.title }), ' ', badges(report)),
    h('td', { text: report.description || '' }),
    h('td', { text: fmtTime(report.modifiedDate) }),
    h('td', { class: 'actions' }, canEdit(report) ? [
      h('a', { class: 'button', href: `#/dashboards/${encodeURIComponent(report.reportId)}/edit`, text: 'Edit', 'aria-label': `Edit ${report.title}` }),
      button('Delete', async () => { if (await deleteReport(report)) window.dispatchEvent(new HashChangeEvent('hashchange')); }, { 'aria-label': `Delete ${report.title}` }),
    ] : null)));
  main.append(h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
    h('caption', { class: 'sr-only', text: 'Dashboards of this account group' }),
    h('thead', {}, h('tr', {}, ['Dashboard', 'Description', `Modified (${ZONE})`, 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows))));
  return null;
}

function timeQuery() {
  if (viewState.window !== 'custom') return { window: viewState.window };
  return { from: localInputToUtc(viewState.from), to: localInputToUtc(viewState.to) };
}

function previousQuery() {
  const now = Date.now();
  let start;
  let end;
  if (viewState.window !== 'custom') {
    const length = WINDOW_SECONDS[viewState.window] * 1000;
    end = now - length;
    start = end - length;
  } else {
    const from = new Date(viewState.from).getTime();
    const to = viewState.to ? new Date(viewState.to).getTime() : now;
    start = from - (to - from);
    end = from;
  }
  const iso = (ms) => new Date(ms).toISOString().slice(0, 19);
  return { from: iso(start), to: iso(end) };
}

function widgetFrame(widget) {
  const body = h('div', { class: 'widget-body', 'aria-live': 'polite' }, h('p', { class: 'loading', text: 'Loading…' }));
  const meta = h('span', { class: 'widget-meta' });
  const frame = h('section', { class: `widget ${widget.visualMode === 'Half screen' ? 'half' : 'full'}`, dataset: { widgetId: widget.id, widgetType: widget.type }, 'aria-labelledby': `w-${widget.id}` },
    h('header', {}, h('h2', { id: `w-${widget.id}`, text: widget.title || widget.type }), h('span', { class: 'widget-type', text: widget.type }), meta),
    body);
  return { frame, body, meta };
}

// Renders the widgets of a report or snapshot; ``fetchData(widget)`` answers its data.
function widgetGrid(widgets, fetchData, fetchPrevious) {
  const grid = h('div', { class: 'widgets' });
  const frames = widgets.map((widget) => ({ widget, ...widgetFrame(widget), chart: null }));
  for (const f of frames) grid.append(f.frame);
  const load = async () => Promise.all(frames.map(async (f) => {
    try {
      const [answer, previous] = await Promise.all([fetchData(f.widget),
        fetchPrevious && f.widget.type === NUMBER ? fetchPrevious(f.widget).catch(() => null) : null]);
      const component = answer.reportDataComponentData || { data: [] };
      if (f.chart) { f.chart.dispose(); f.chart = null; }
      f.chart = drawWidget(f.body, f.widget, component, {
        range: { from: parseTime(answer.from), to: parseTime(answer.to) },
        previous: previous ? previous.reportDataComponentData : null,
      });
      f.meta.textContent = `${binLabel(component, f.widget)} · ${fmtTime(answer.from)} – ${fmtTime(answer.to)}`;
      f.frame.dataset.state = 'drawn';
    } catch (error) {
      if (f.chart) { f.chart.dispose(); f.chart = null; }
      clear(f.body).append(h('p', { class: 'error-state', role: 'alert', text: `Could not load this widget's data: ${describe(error)}` }));
      f.frame.dataset.state = 'error';
    }
  }));
  const stopResize = autoResize(() => frames.map((f) => f.chart).filter(Boolean));
  const dispose = () => { stopResize(); for (const f of frames) if (f.chart) f.chart.dispose(); };
  return { grid, load, dispose };
}

export async function view(main, { id }) {
  const report = await api(`/v6/reports/${encodeURIComponent(id)}`);
  const editable = canEdit(report);
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', { text: report.title }, ' ', badges(report)), report.description ? h('p', { class: 'lead', text: report.description }) : null),
    h('div', { class: 'actions' },
      can(EDIT) ? button('Take snapshot', () => takeSnapshot(report, snapshotsBox)) : null,
      editable ? h('a', { class: 'button', href: `#/dashboards/${encodeURIComponent(id)}/edit`, text: 'Edit dashboard' }) : null,
      editable ? button('Delete dashboard', async () => { if (await deleteReport(report)) window.location.hash = '#/dashboards'; }) : null)));

  const windowSelect = select(WINDOWS, viewState.window, { name: 'window' });
  const fromInput = h('input', { type: 'datetime-local', name: 'from', value: viewState.from });
  const toInput = h('input', { type: 'datetime-local', name: 'to', value: viewState.to });
  const custom = h('div', { class: 'custom-range', hidden: viewState.window !== 'custom' },
    field(`From (${ZONE})`, fromInput), field(`To (${ZONE}, empty: now)`, toInput),
    button('Apply', () => { viewState.from = fromInput.value; viewState.to = toInput.value; reload(); }));
  const refreshSelect = select(REFRESH, viewState.refresh, { name: 'refresh' });
  const updated = h('span', { class: 'updated', 'aria-live': 'polite' });
  main.append(h('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() },
    field('Time range', windowSelect), custom, field('Automatic refresh', refreshSelect),
    button('Refresh now', () => reload()), updated));

  const { grid, load, dispose } = widgetGrid(report.widgets || [],
    (w) => api(`/v6/reports/${encodeURIComponent(id)}/${encodeURIComponent(w.id)}`, { query: timeQuery() }),
    (w) => api(`/v6/reports/${encodeURIComponent(id)}/${encodeURIComponent(w.id)}`, { query: previousQuery() }));
  if (!(report.widgets || []).length) {
    main.append(h('p', { class: 'empty-state', text: 'This dashboard has no widgets yet.' }));
  }
  main.append(grid);
  rulesByWidget(report.reportId).then((rules) => {
    for (const frame of grid.querySelectorAll('section.widget')) {
      const onWidget = rules.get(frame.dataset.widgetId);
      if (onWidget) frame.querySelector('header').after(ruleBadges(onWidget));
    }
  }).catch(() => {});
  let healthCharts = [];
  if (report.isBuiltIn && report.title === 'Model health') {
    // The built-in Model health dashboard also draws the active model's details its widgets cannot.
    const healthBox = h('section', { class: 'model-health', 'aria-labelledby': 'health-title' },
      h('h2', { id: 'health-title', text: 'Active model in detail (last 7 days)' }));
    main.append(healthBox);
    const active = (await api('/models', { query: { _limit: 100 } })).find((m) => m.active);
    if (active) healthCharts = await drawHealth(healthBox, active.version);
    else healthBox.append(h('p', { class: 'empty-state', text: 'No active model yet: launch a training.' }));
  }
  const stopHealthResize = autoResize(() => healthCharts);
  const snapshotsBox = h('section', { class: 'snapshots', 'aria-labelledby': 'snapshots-title' });
  main.append(snapshotsBox);

  let timer = null;
  const schedule = () => {
    clearInterval(timer);
    const seconds = Number(viewState.refresh);
    if (seconds > 0) timer = setInterval(() => reload(), seconds * 1000);
  };
  async function reload() {
    if (viewState.window === 'custom' && !viewState.from) { updated.textContent = 'Choose a start time.'; return; }
    await load();
    updated.textContent = `Updated ${fmtTime(new Date(), true)}`;
    main.dataset.loaded = String(Number(main.dataset.loaded || 0) + 1);
  }
  windowSelect.addEventListener('change', () => {
    viewState.window = windowSelect.value;
    custom.hidden = viewState.window !== 'custom';
    if (viewState.window !== 'custom') reload();
  });
  refreshSelect.addEventListener('change', () => { viewState.refresh = refreshSelect.value; schedule(); });
  main.dataset.loaded = '0';
  schedule();
  await reload();
  loadSnapshots(report, snapshotsBox);
  return () => { clearInterval(timer); dispose(); stopHealthResize(); for (const c of healthCharts) c.dispose(); delete main.dataset.loaded; };
}

async function takeSnapshot(report, box) {
  const name = `${report.title} — ${fmtTime(new Date())}`;
  try {
    await api('/v6/report-snapshots/create', { method: 'POST', body: { reportId: report.reportId, snapshotName: name, ...timeQuery() } });
    toast(`Snapshot “${name}” taken.`);
    loadSnapshots(report, box);
  } catch (error) {
    toast(describe(error));
  }
}

async function loadSnapshots(report, box) {
  clear(box).append(h('h2', { id: 'snapshots-title', text: 'Snapshots' }));
  try {
    const answer = await api('/v6/report-snapshots', { query: { reportId: report.reportId } });
    const snaps = answer.reportSnapshots || [];
    if (!snaps.length) { box.append(h('p', { class: 'empty-state', text: 'No snapshots of this dashboard yet.' })); return; }
    box.append(h('ul', { class: 'snapshot-list' }, snaps.map((s) => h('li', {},
      h('a', { href: `#/snapshots/${encodeURIComponent(s.snapshotId)}`, text: s.snapshotName || s.snapshotId }),
      h('span', { class: 'muted', text: ` · taken ${fmtTime(s.createdDate)} · covers ${fmtTime(s.timeSpan && s.timeSpan.startDate)} + ${fmtDuration(Number(s.timeSpan && s.timeSpan.duration) || 0)}` })))));
  } catch (error) {
    box.append(h('p', { class: 'error-state', text: describe(error) }));
  }
}

export async function snapshot(main, { id }) {
  const answer = await api(`/v6/report-snapshots/${encodeURIComponent(id)}`);
  const snap = answer.reportSnapshots[0];
  main.append(h('div', { class: 'page-head' }, h('div', {},
    h('h1', { text: snap.snapshotName || 'Snapshot' }),
    h('p', { class: 'lead' }, 'Snapshot of ', h('a', { href: `#/dashboards/${encodeURIComponent(snap.report.reportId)}`, text: snap.report.title }),
      ` taken ${fmtTime(snap.createdDate)}; data frozen as it was then.`))));
  const { grid, load, dispose } = widgetGrid(snap.widgets || [],
    (w) => api(`/v6/report-snapshots/${encodeURIComponent(id)}/${encodeURIComponent(w.id)}`));
  main.append(grid);
  await load();
  return dispose;
}

// --- the editor: offers only what widgets.py accepts, and shows its 400 next to the widget ---

function measureControls(opts, spec, isCount, onChange) {
  const PERCENTILE = opts.percentileMeasure;
  const measure = select(opts.measures, (spec.measure && spec.measure.type) || opts.defaultMeasure, { name: 'measure' });
  const percentile = h('input', { type: 'number', name: 'percentileValue', min: '0.1', max: '100', step: 'any', value: (spec.measure && spec.measure.percentileValue) || 95 });
  const percentileField = field('Percentile (0–100]', percentile);
  const measureField = field('Measure', measure);
  const sync = () => {
    measureField.hidden = isCount();
    percentileField.hidden = isCount() || measure.value !== PERCENTILE;
  };
  measure.addEventListener('change', () => { sync(); onChange && onChange(); });
  sync();
  return {
    nodes: [measureField, percentileField],
    fields: { measure: measureField, percentileValue: percentileField },
    sync,
    value: () => (isCount() ? null : (measure.value === PERCENTILE ? { type: measure.value, percentileValue: Number(percentile.value) } : { type: measure.value })),
  };
}

function widgetEditor(opts, initial, index, onRemove) {
  const w = { ...initial };
  const typeOf = (name) => opts.widgetTypes.find((t) => t.name === name) || opts.widgetTypes[0];
  const sourceOf = (name) => opts.dataSources.find((s) => s.name === name) || opts.dataSources[0];
  const fieldset = h('fieldset', { class: 'widget-editor', dataset: { index: String(index) } });
  const legend = h('legend', {});
  const typeSelect = select(opts.widgetTypes.map((t) => t.name), typeOf(w.type).name, { name: 'type' });
  const title = h('input', { type: 'text', name: 'title', value: w.title || '', maxlength: '255' });
  const mode = select(opts.visualModes.map((m) => [m, MODE_LABELS[m] || m]), w.visualMode || opts.visualModes[0], { name: 'visualMode' });
  const firstSpec = (w.numberCards && w.numberCards[0]) || (w.multiMetricColumns && w.multiMetricColumns[0]) || w;
  const source = select(opts.dataSources.map((d) => d.name), sourceOf(firstSpec.dataSource).name, { name: 'dataSource' });
  const metric = h('select', { name: 'metric' });
  const groupBy = h('select', { name: 'groupBy' });
  const limit = h('input', { type: 'number', name: 'limit', min: '1', max: String(opts.maxLimit), value: w.limit || '' });
  const columnsBox = h('fieldset', { class: 'columns' }, h('legend', { text: 'Columns (metrics)' }));
  const filtersBox = h('div', { class: 'widget-filters' });
  const error = h('p', { class: 'error', role: 'alert' });
  const metricsOf = () => sourceOf(source.value).metrics;
  const isCount = () => Boolean((metricsOf().find((m) => m.name === metric.value) || {}).isCount);
  const measure = measureControls(opts, firstSpec, isCount);

  const chosenColumns = new Set((w.multiMetricColumns || []).map((c) => c.metric));
  // Filters kept as the API stores them: property -> values; the closed lists are offered as choices.
  const filters = { ...(w.filters || firstSpec.filters || {}) };
  const fillFilters = () => {
    const available = sourceOf(source.value).filters;
    for (const prop of Object.keys(filters)) if (!available.some((f) => f.property === prop)) delete filters[prop];
    clear(filtersBox);
    for (const f of available.filter((x) => x.values && x.values.length)) {
      const chosen = new Set(filters[f.property] || []);
      const box = h('fieldset', { class: 'filter', dataset: { property: f.property } },
        h('legend', {}, `Keep only ${f.property}`, h('span', { class: 'muted', text: ' (none checked: all)' })));
      for (const value of f.values) {
        const check = h('input', { type: 'checkbox', name: `filter-${f.property}`, value, checked: chosen.has(value) });
        check.addEventListener('change', () => {
          if (check.checked) chosen.add(value); else chosen.delete(value);
          if (chosen.size) filters[f.property] = f.values.filter((v) => chosen.has(v)); else delete filters[f.property];
        });
        box.append(h('label', { class: 'check' }, check, ` ${value}`));
      }
      filtersBox.append(box);
    }
  };
  const fillMetrics = () => {
    const kind = typeOf(typeSelect.value);
    const metrics = metricsOf().filter((m) => !(kind.valueMetricsOnly && m.isCount)).map((m) => m.name);
    const current = metric.value || firstSpec.metric;
    clear(metric);
    for (const name of metrics) metric.append(h('option', { value: name, text: name, selected: name === current }));
    const currentGroup = groupBy.value || w.groupBy || '';
    clear(groupBy).append(h('option', { value: '', text: 'No grouping' }));
    for (const g of sourceOf(source.value).groupBy) groupBy.append(h('option', { value: g, text: g, selected: g === currentGroup }));
    clear(columnsBox).append(h('legend', { text: 'Columns (metrics)' }));
    for (const { name } of metricsOf()) {
      const box = h('input', { type: 'checkbox', name: 'column', value: name, checked: chosenColumns.has(name) });
      box.addEventListener('change', () => { if (box.checked) chosenColumns.add(name); else chosenColumns.delete(name); });
      columnsBox.append(h('label', { class: 'check' }, box, ` ${name}`));
    }
  };
  const typeField = field('Type', typeSelect);
  const sourceField = field('Data source', source);
  const metricField = field('Metric', metric);
  const groupField = field('Group by', groupBy);
  const limitField = field('Rows (limit)', limit, `Tables and pies: at most this many groups (1–${opts.maxLimit}); empty: the default`);
  const sync = () => {
    const kind = typeOf(typeSelect.value);
    fillMetrics();
    metricField.hidden = kind.metricsFrom === 'multiMetricColumns';
    columnsBox.hidden = kind.metricsFrom !== 'multiMetricColumns';
    groupField.hidden = !kind.takesGroupBy;
    limitField.hidden = kind.binned || !kind.takesGroupBy;
    measure.sync();
    legend.textContent = `Widget ${index + 1}: ${title.value || kind.name}`;
  };
  typeSelect.addEventListener('change', sync);
  source.addEventListener('change', () => { chosenColumns.clear(); fillFilters(); sync(); });
  metric.addEventListener('change', () => measure.sync());
  title.addEventListener('input', () => { legend.textContent = `Widget ${index + 1}: ${title.value || typeSelect.value}`; });

  append(fieldset, legend, h('div', { class: 'grid' },
    typeField, field('Title', title), field('Width', mode), sourceField,
    metricField, ...measure.nodes, groupField, limitField), columnsBox, filtersBox, error,
  button('Remove widget', onRemove, { class: 'link' }));
  fillFilters();
  sync();

  const value = () => {
    const kind = typeOf(typeSelect.value);
    const out = { type: kind.name, title: title.value || null, visualMode: mode.value };
    if (w.id) out.id = w.id;
    if (kind.metricsFrom === 'multiMetricColumns') {
      out.multiMetricColumns = metricsOf().filter((m) => chosenColumns.has(m.name)).map((m) => (m.isCount
        ? { dataSource: source.value, metric: m.name }
        : { dataSource: source.value, metric: m.name, measure: measure.value() || { type: opts.defaultMeasure } }));
    } else {
      out.dataSource = source.value;
      out.metric = metric.value;
      const m = measure.value();
      if (m) out.measure = m;
    }
    if (kind.takesGroupBy && groupBy.value) out.groupBy = groupBy.value;
    if (!limitField.hidden && limit.value) out.limit = Number(limit.value);
    if (Object.keys(filters).length) out.filters = { ...filters };
    return out;
  };
  // Where the API's message about this widget belongs: the field it names, else the widget.
  const fieldsByWord = { percentileValue: measure.fields.percentileValue, measure: measure.fields.measure, metric: metricField,
    groupBy: groupField, limit: limitField, type: typeField, dataSource: sourceField, multiMetricColumns: columnsBox, filter: filtersBox };
  const showError = (message) => {
    const detail = message.replace(/^Widget \d+ \([^)]*\): /, '');
    const word = Object.keys(fieldsByWord).find((w) => detail.startsWith(w) || detail.includes(` ${w} `));
    const target = word && !fieldsByWord[word].hidden ? fieldsByWord[word] : null;
    const box = target ? target.querySelector('.error') || error : error;
    box.textContent = message;
    const control = target ? target.querySelector('input, select') : typeSelect;
    if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
  };
  const clearErrors = () => {
    for (const el of fieldset.querySelectorAll('.error')) el.textContent = '';
    for (const el of fieldset.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  };
  return { fieldset, value, error, showError, clearErrors };
}

// A new widget starts as the simplest chart there is: a count over time.
function newWidget(opts) {
  const kind = opts.widgetTypes.find((t) => t.binned) || opts.widgetTypes[0];
  const source = opts.dataSources[0];
  const metric = source.metrics.find((m) => m.isCount) || source.metrics[0];
  return { type: kind.name, dataSource: source.name, metric: metric.name };
}

function append(el, ...children) { for (const c of children.flat()) if (c) el.append(c); return el; }

export async function editor(main, { id }) {
  const existing = id ? await api(`/v6/reports/${encodeURIComponent(id)}`) : null;
  if (existing && !canEdit(existing)) {
    main.append(h('p', { class: 'error-state', text: 'You cannot edit this dashboard.' }));
    return null;
  }
  if (!existing && !can(EDIT)) {
    main.append(h('p', { class: 'error-state', text: 'Your role cannot create dashboards.' }));
    return null;
  }
  const opts = await widgetOptions();
  main.append(h('h1', { text: existing ? `Edit “${existing.title}”` : 'New dashboard' }));
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: '255', value: existing ? existing.title : '' });
  const description = h('textarea', { name: 'description', maxlength: '4000', rows: '2' });
  description.value = existing ? existing.description || '' : '';
  const isDefault = h('input', { type: 'checkbox', name: 'isDefaultForUser', checked: Boolean(existing && existing.isDefaultForUser) });
  const titleField = field('Title', title);
  const formError = h('p', { class: 'error', role: 'alert' });
  const widgetsBox = h('div', { class: 'widget-editors' });
  let editors = [];
  const renumber = () => {
    const values = editors.map((e) => e.value());
    clear(widgetsBox);
    editors = values.map((v, i) => widgetEditor(opts, v, i, () => { editors.splice(i, 1); renumber(); }));
    for (const e of editors) widgetsBox.append(e.fieldset);
  };
  const addWidget = (spec) => {
    const index = editors.length;
    const e = widgetEditor(opts, spec, index, () => { editors.splice(editors.indexOf(e), 1); renumber(); });
    editors.push(e);
    widgetsBox.append(e.fieldset);
    return e;
  };
  for (const widget of (existing && existing.widgets) || []) addWidget(widget);

  const form = h('form', { class: 'editor', novalidate: true },
    titleField, field('Description', description),
    h('label', { class: 'check' }, isDefault, ' My default dashboard'),
    h('h2', { text: 'Widgets' }), widgetsBox,
    button('Add widget', () => { const e = addWidget(newWidget(opts)); e.fieldset.querySelector('select').focus(); }),
    formError,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', text: existing ? 'Save dashboard' : 'Create dashboard' }),
      h('a', { class: 'button', href: existing ? `#/dashboards/${encodeURIComponent(existing.reportId)}` : '#/dashboards', text: 'Cancel' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setError(titleField, '');
    formError.textContent = '';
    for (const e of editors) e.clearErrors();
    if (!title.value.trim()) { setError(titleField, 'A dashboard needs a title.'); title.focus(); return; }
    const body = { title: title.value.trim(), description: description.value || null, isDefaultForUser: isDefault.checked, widgets: editors.map((e) => e.value()) };
    try {
      const path = existing ? `/v6/reports/${encodeURIComponent(existing.reportId)}/update` : '/v6/reports/create';
      const [saved] = await api(path, { method: 'POST', body });
      toast(`Saved “${saved.title}”.`);
      window.location.hash = `#/dashboards/${encodeURIComponent(saved.reportId)}`;
    } catch (error) {
      showSaveError(error, { titleField, formError, editors });
    }
  });
  main.append(form);
  title.focus();
  return null;
}

function showSaveError(error, { titleField, formError, editors }) {
  if (!(error instanceof ApiError)) { formError.textContent = describe(error); return; }
  const match = /^Widget (\d+) /.exec(error.message || '');
  const target = match && editors[Number(match[1]) - 1];
  const fieldErrors = error.body && error.body.errors && (error.body.errors.json || error.body.errors);
  if (target) {
    target.fieldset.scrollIntoView({ block: 'center' });
    target.showError(error.message);
  } else if (fieldErrors && fieldErrors.title) {
    setError(titleField, [].concat(fieldErrors.title).join(' '));
  } else {
    formError.textContent = describe(error);
  }
}

export { metricLabel };
