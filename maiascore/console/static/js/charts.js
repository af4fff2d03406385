// Draws one widget's data (GET /v6/reports/{id}/{widgetId}) as the chart its type names.
// Charts are ECharts on canvas; tooltips use ECharts' richText mode, drawn on the canvas, so no
// API value is ever parsed as HTML and no inline style is needed.
import { clear, h } from './dom.js';
import { fmtDuration, fmtNum, fmtTime } from './format.js';

export const NUMBER = 'Number';
export const TABLE = 'Table';
export const MULTI_METRIC_TABLE = 'Multi Metric Table';
export const PIE = 'Pie Chart';
export const LINE = 'Time Series: Line';
export const STACKED_AREA = 'Time Series: Stacked Area';
export const BOX = 'Box and Whiskers';
export const BAR_STACKED = 'Bar Chart: Stacked';
export const BAR_GROUPED = 'Bar Chart: Grouped';
export const WIDGET_TYPES = [LINE, STACKED_AREA, BAR_STACKED, BAR_GROUPED, PIE, NUMBER, TABLE, MULTI_METRIC_TABLE, BOX];
export const BINNED = new Set([LINE, STACKED_AREA, BAR_STACKED, BAR_GROUPED]);

const PALETTE = ['#2f6fb0', '#d9822b', '#3a9d5d', '#c23b4b', '#7b5ea7', '#8c6d3f', '#d46fb0', '#6b7a8f', '#b3a93a', '#2aa6b8'];

function tooltipBase(extra) {
  return { renderMode: 'richText', confine: true, ...extra };
}

export function metricLabel(spec) {
  if (!spec) return '';
  const measure = spec.measure && spec.measure.type
    ? (spec.measure.type === 'nth Percentile' ? `p${fmtNum(spec.measure.percentileValue)}` : spec.measure.type)
    : '';
  return measure ? `${spec.metric} (${measure})` : (spec.metric || '');
}

function labelMaps(component) {
  const maps = new Map();
  for (const map of component.groupLabelMaps || []) {
    maps.set(map.groupProperty, new Map((map.groupLabels || []).map((l) => [l.groupId, l.groupLabel])));
  }
  return maps;
}

function groupName(datum, maps, fallback) {
  const parts = (datum.groups || []).map((g) => (maps.get(g.groupProperty) || new Map()).get(g.groupId) ?? g.groupId);
  return parts.length ? parts.join(' · ') : fallback;
}

function bySeries(data, maps, fallback) {
  const series = new Map();
  for (const datum of data) {
    const name = groupName(datum, maps, fallback);
    if (!series.has(name)) series.set(name, []);
    series.get(name).push(datum);
  }
  return series;
}

function mount(body, option) {
  const box = h('div', { class: 'chart', role: 'img' });
  body.append(box);
  const instance = window.echarts.init(box, null, { renderer: 'canvas' });
  instance.setOption({ animation: false, color: PALETTE, aria: { enabled: true }, ...option });
  box.setAttribute('aria-label', `${option.title ? option.title.text : 'Chart'}`);
  return instance;
}

function timeSeries(body, widget, component, range) {
  const maps = labelMaps(component);
  const groups = bySeries(component.data, maps, metricLabel(widget));
  const isBar = widget.type === BAR_STACKED || widget.type === BAR_GROUPED;
  const stacked = widget.type === BAR_STACKED || widget.type === STACKED_AREA;
  const series = [...groups.entries()].map(([name, points]) => ({
    name,
    type: isBar ? 'bar' : 'line',
    stack: stacked ? 'total' : undefined,
    areaStyle: widget.type === STACKED_AREA ? { opacity: 0.5 } : undefined,
    showSymbol: true,
    symbolSize: 6,
    barMaxWidth: 28,
    data: points.sort((a, b) => a.binId - b.binId).map((d) => [d.binId * 1000, d.value, d.count]),
  }));
  const binSize = component.binSize;
  return mount(body, {
    grid: { left: 60, right: 20, top: 40, bottom: 48, containLabel: false },
    legend: { type: 'scroll', top: 4 },
    xAxis: { type: 'time', min: range.from ? range.from.getTime() : undefined, max: range.to ? range.to.getTime() : undefined },
    yAxis: { type: 'value', name: metricLabel(widget), nameTextStyle: { align: 'left' } },
    tooltip: tooltipBase({
      trigger: 'axis',
      formatter: (params) => {
        const list = Array.isArray(params) ? params : [params];
        if (!list.length) return '';
        const start = list[0].value[0];
        const lines = [`${fmtTime(start)} – ${fmtTime(start + binSize * 1000)}`];
        for (const p of list) lines.push(`${p.seriesName}: ${fmtNum(p.value[1])} (count ${fmtNum(p.value[2])})`);
        return lines.join('\n');
      },
    }),
    series,
  });
}

function pie(body, widget, component) {
  const maps = labelMaps(component);
  const data = component.data.map((d) => ({ name: groupName(d, maps, metricLabel(widget)), value: d.value, count: d.count }));
  return mount(body, {
    legend: { type: 'scroll', bottom: 0 },
    tooltip: tooltipBase({
      trigger: 'item',
      formatter: (p) => `${p.name}: ${fmtNum(p.value)} (${fmtNum(p.percent, 1)}%, count ${fmtNum(p.data.count)})`,
    }),
    series: [{ type: 'pie', radius: ['35%', '65%'], data, label: { formatter: (p) => `${p.name}: ${fmtNum(p.value)}` } }],
  });
}

function boxPlot(body, widget, component) {
  const maps = labelMaps(component);
  const rows = component.data.filter((d) => d.distribution);
  const names = rows.map((d) => groupName(d, maps, metricLabel(widget)));
  const data = rows.map((d) => {
    const s = d.distribution;
    return [s.minimum, s.q1, s.median, s.q3, s.maximum].map(Number);
  });
  return mount(body, {
    grid: { left: 60, right: 20, top: 24, bottom: 40 },
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value', name: metricLabel(widget), scale: true },
    tooltip: tooltipBase({
      trigger: 'item',
      formatter: (p) => {
        const d = rows[p.dataIndex];
        const s = d.distribution;
        return [`${names[p.dataIndex]} (count ${fmtNum(d.count)})`, `maximum ${fmtNum(s.maximum)}`, `q3 ${fmtNum(s.q3)}`,
          `median ${fmtNum(s.median)}`, `q1 ${fmtNum(s.q1)}`, `minimum ${fmtNum(s.minimum)}`].join('\n');
      },
    }),
    series: [{ name: metricLabel(widget), type: 'boxplot', data }],
  });
}

function numberCards(body, widget, component, previous) {
  const cards = widget.numberCards && widget.numberCards.length ? widget.numberCards : [{ id: widget.id, ...widget, description: widget.title }];
  const list = h('ul', { class: 'number-cards' });
  const find = (comp, card, index) => {
    const data = (comp && comp.data) || [];
    return data.find((d) => d.cardId === card.id) || (cards.length === 1 ? data[index] : undefined);
  };
  cards.forEach((card, index) => {
    const datum = find(component, card, index) || { value: null, count: 0 };
    const before = previous ? find(previous, card, index) : undefined;
    let trend = null;
    if (before && before.value !== null && datum.value !== null && Number(before.value) !== 0) {
      const change = (Number(datum.value) - Number(before.value)) / Math.abs(Number(before.value));
      const arrow = change > 0 ? '▲' : (change < 0 ? '▼' : '■');
      trend = h('span', { class: `trend ${change > 0 ? 'up' : (change < 0 ? 'down' : 'flat')}`, text: `${arrow} ${fmtNum(change * 100, 1)}% vs previous period` });
    } else if (previous) {
      trend = h('span', { class: 'trend flat', text: 'no data in the previous period' });
    }
    list.append(h('li', { class: 'number-card', dataset: { cardId: card.id } },
      h('span', { class: 'card-label', text: card.description || metricLabel(card) }),
      h('span', { class: 'card-value', text: fmtNum(datum.value) }),
      h('span', { class: 'card-count', text: `count ${fmtNum(datum.count)}` }),
      trend));
  });
  body.append(list);
}

function table(body, widget, component) {
  const maps = labelMaps(component);
  const property = (component.data[0] && component.data[0].groups && component.data[0].groups[0] && component.data[0].groups[0].groupProperty) || widget.groupBy || 'Group';
  const rows = component.data.map((d) => h('tr', {},
    h('th', { scope: 'row', text: groupName(d, maps, metricLabel(widget)) }),
    h('td', { class: 'num', text: fmtNum(d.value) }),
    h('td', { class: 'num', text: fmtNum(d.count) })));
  body.append(h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: property }), h('th', { scope: 'col', class: 'num', text: metricLabel(widget) }), h('th', { scope: 'col', class: 'num', text: 'Count' }))),
    h('tbody', {}, rows))));
}

function multiMetricTable(body, widget, component) {
  const maps = labelMaps(component);
  const columns = widget.multiMetricColumns || [];
  const rows = new Map();
  for (const d of component.data) {
    const name = groupName(d, maps, 'All');
    if (!rows.has(name)) rows.set(name, new Map());
    rows.get(name).set(d.columnId, d);
  }
  const property = widget.groupBy || 'Group';
  body.append(h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: property }), columns.map((c) => h('th', { scope: 'col', class: 'num', text: metricLabel(c) })))),
    h('tbody', {}, [...rows.entries()].map(([name, cells]) => h('tr', {},
      h('th', { scope: 'row', text: name }),
      columns.map((c) => {
        const d = cells.get(c.id);
        return h('td', { class: 'num', title: d ? `count ${d.count}` : 'no data', text: d ? fmtNum(d.value) : '—' });
      })))))));
}

// Draws ``component`` into ``body``; returns the ECharts instance (or null for HTML widgets).
export function drawWidget(body, widget, component, { range = {}, previous = null } = {}) {
  clear(body);
  const data = component.data || [];
  body.dataset.points = String(data.length);
  if (widget.type !== NUMBER && data.length === 0) {
    body.append(h('p', { class: 'empty-state', text: `No data between ${fmtTime(range.from)} and ${fmtTime(range.to)}: nothing matched this widget's metric and filters.` }));
    return null;
  }
  switch (widget.type) {
    case LINE: case STACKED_AREA: case BAR_STACKED: case BAR_GROUPED: return timeSeries(body, widget, component, range);
    case PIE: return pie(body, widget, component);
    case BOX: return boxPlot(body, widget, component);
    case NUMBER: numberCards(body, widget, component, previous); return null;
    case TABLE: table(body, widget, component); return null;
    case MULTI_METRIC_TABLE: multiMetricTable(body, widget, component); return null;
    default:
      body.append(h('p', { class: 'empty-state', text: `Widget type ${widget.type} is not drawn by this console.` }));
      return null;
  }
}

export function binLabel(component, widget) {
  if (!component || !component.binSize) return '';
  return BINNED.has(widget.type) ? `bins of ${fmtDuration(component.binSize)}` : `over ${fmtDuration(component.binSize)}`;
}

// Horizontal bars, for explanations and feature importance.
export function horizontalBars(body, items, { valueName, signed = false } = {}) {
  const sorted = [...items].sort((a, b) => Math.abs(a.value) - Math.abs(b.value));
  const box = h('div', { class: 'chart bars', role: 'img', 'aria-label': `${valueName} by feature` });
  box.classList.add(sorted.length > 10 ? 'tall' : 'medium');
  body.append(box);
  const instance = window.echarts.init(box, null, { renderer: 'canvas' });
  instance.setOption({
    animation: false,
    aria: { enabled: true },
    grid: { left: 8, right: 40, top: 8, bottom: 24, containLabel: true },
    xAxis: { type: 'value', name: valueName, nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'category', data: sorted.map((i) => i.label), axisLabel: { width: 220, overflow: 'truncate' } },
    tooltip: tooltipBase({ trigger: 'item', formatter: (p) => `${sorted[p.dataIndex].label}: ${fmtNum(p.value, 4)}${sorted[p.dataIndex].detail ? `\n${sorted[p.dataIndex].detail}` : ''}` }),
    series: [{
      type: 'bar',
      name: valueName,
      data: sorted.map((i) => ({ value: i.value, itemStyle: { color: signed && i.value < 0 ? '#c23b4b' : '#2f6fb0' } })),
      label: { show: true, position: 'right', formatter: (p) => fmtNum(p.value, 3) },
    }],
  });
  return instance;
}

// Keeps charts the size of their boxes when the window or layout changes.
export function autoResize(instances) {
  const observer = new ResizeObserver(() => { for (const i of instances()) if (!i.isDisposed()) i.resize(); });
  observer.observe(document.getElementById('main'));
  return () => observer.disconnect();
}
