'use strict';
// Query objects as the SDK serializes them with qs (issue 11, items 1-4): arrays
// (`uuid_in[0]=a&uuid_in[1]=c`), `_where` with `_or`, the whole v3 operator set and sorting on
// `published_at`. They pass once maiascore.http.strapi_query is wired into parse_list_query.
const { test } = require('node:test');
// The very qs the SDK serializes with (its own dependency, not a copy declared here).
const qs = require(require.resolve('qs', { paths: [require.resolve('strapi-sdk-javascript')] }));
const { assert, loggedIn, runId, rejectsWith, ids } = require('./helpers');

let strapi;
const run = runId('filters');
const reports = [];
const trainings = [];
const tomorrow = () => new Date(Date.now() + 24 * 3600 * 1000).toISOString();

// Set up once, on first use (hooks differ across Node versions; this works on Node 18 too).
let ready;
const setup = () => {
  ready = ready || (async () => {
    strapi = await loggedIn();
    for (const index of [0, 1, 2, 3]) {
      reports.push(await strapi.createEntry('reports', {
        uuid: `${run}-${index}`,
        referenceId: index % 2 ? `${run}.Odd` : `${run}-even`,
        features: { income: 1000 * index },
      }));
    }
    for (const index of [0, 1]) {
      trainings.push(await strapi.createEntry('trainings', {
        uuid: `${run}-t${index}`, meta: { dataset: 'german-credit' }, scheduledAt: tomorrow(),
      }));
    }
  })();
  return ready;
};

const mine = (params) => strapi.getEntries('reports', { uuid_contains: run, ...params });

test('the SDK writes arrays and nested objects in qs brackets (what the server must read)', () => {
  assert.equal(qs.stringify({ uuid_in: ['a', 'c'] }, { encode: false }), 'uuid_in[0]=a&uuid_in[1]=c');
  assert.equal(qs.stringify({ _where: [{ score_gte: 600 }, { _or: [{ status: 'queued' }, { status: 'failed' }] }] },
    { encode: false }),
  '_where[0][score_gte]=600&_where[1][_or][0][status]=queued&_where[1][_or][1][status]=failed');
});

test('array filters: uuid_in / uuid_nin given as arrays', async () => {
  await setup();
  const wanted = [reports[0], reports[2]];
  assert.deepEqual(ids(await strapi.getEntries('reports', { uuid_in: wanted.map((r) => r.uuid) })), ids(wanted));
  assert.equal(await strapi.getEntryCount('reports', { uuid_in: wanted.map((r) => r.uuid) }), 2);
  assert.deepEqual(ids(await mine({ uuid_nin: [reports[0].uuid, reports[1].uuid] })), ids([reports[2], reports[3]]));
  assert.deepEqual(ids(await strapi.getEntries('reports', { id_in: [reports[1].id, reports[3].id] })),
    ids([reports[1], reports[3]]));
  assert.deepEqual(ids(await strapi.getEntries('trainings', { uuid_in: trainings.map((t) => t.uuid) })),
    ids(trainings));
});

test('a scalar filter given an array matches any of its values, as in Strapi', async () => {
  await setup();
  assert.deepEqual(ids(await strapi.getEntries('reports', { uuid: [reports[0].uuid, reports[3].uuid] })),
    ids([reports[0], reports[3]]));
});

test('_where with a nested _or', async () => {
  await setup();
  const found = await strapi.getEntries('reports', {
    _where: [
      { uuid_contains: run },
      { _or: [{ uuid: reports[0].uuid }, { referenceId: `${run}.Odd`, uuid_ne: reports[3].uuid }] },
    ],
  });
  assert.deepEqual(ids(found), ids([reports[0], reports[1]]));
  assert.equal(await strapi.getEntryCount('reports', {
    _where: { _or: [{ uuid: reports[2].uuid }, { uuid: reports[3].uuid }] },
  }), 2);
  const trainingCount = await strapi.getEntryCount('trainings', {
    _where: [{ uuid_contains: run }, { _or: [{ status: 'scheduled' }, { status: 'queued' }] }],
  });
  assert.equal(trainingCount, 2);
});

test('the whole v3 operator set', async () => {
  await setup();
  const r = reports;
  assert.deepEqual(ids(await mine({ uuid_eq: r[1].uuid })), [r[1].id]);
  assert.deepEqual(ids(await mine({ uuid_ne: r[1].uuid })), ids([r[0], r[2], r[3]]));
  assert.deepEqual(ids(await mine({ uuid_lt: r[1].uuid })), [r[0].id]);
  assert.deepEqual(ids(await mine({ uuid_lte: r[1].uuid })), ids([r[0], r[1]]));
  assert.deepEqual(ids(await mine({ uuid_gt: r[2].uuid })), [r[3].id]);
  assert.deepEqual(ids(await mine({ uuid_gte: r[2].uuid })), ids([r[2], r[3]]));
  assert.deepEqual(ids(await mine({ uuid_in: [r[0].uuid] })), [r[0].id]);
  assert.deepEqual(ids(await mine({ uuid_nin: [r[0].uuid] })), ids([r[1], r[2], r[3]]));
  assert.deepEqual(ids(await mine({ referenceId_contains: '.odd' })), ids([r[1], r[3]]));
  assert.deepEqual(ids(await mine({ referenceId_ncontains: '.odd' })), ids([r[0], r[2]]));
  assert.deepEqual(ids(await mine({ referenceId_containss: '.Odd' })), ids([r[1], r[3]]));
  assert.deepEqual(ids(await mine({ referenceId_containss: '.odd' })), []);
  assert.deepEqual(ids(await mine({ referenceId_ncontainss: '.odd' })), ids(r));
  assert.deepEqual(ids(await mine({ score_null: true })), ids(r));
  assert.deepEqual(ids(await mine({ score_null: false })), []);
  assert.deepEqual(ids(await mine({ processed_eq: false })), ids(r));
});

test('_sort on published_at, updated_at and processed_at', async () => {
  await setup();
  const latest = await strapi.getEntries('reports', { uuid_contains: run, _limit: 2, _sort: 'published_at:DESC' });
  assert.equal(latest.length, 2);
  assert.ok(latest[0].published_at >= latest[1].published_at);
  await strapi.getEntries('reports', { _limit: 2, _sort: 'published_at:DESC' });
  await strapi.getEntries('reports', { _limit: 2, _sort: 'updated_at:ASC,processed_at:DESC' });
  const recent = await strapi.getEntries('reports', { uuid_contains: run, published_at_lte: new Date().toISOString() });
  assert.equal(recent.length, 4);
  const t = await strapi.getEntries('trainings', { uuid_contains: run, _sort: 'published_at:DESC', _limit: 1 });
  assert.equal(t.length, 1);
});

test('nested filters are refused with the filter named, never run as MongoDB operators', async () => {
  await setup();
  await rejectsWith(strapi.getEntries('reports', { _where: [{ nope: 1 }] }), /Unknown filter '_where\[0\]\[nope\]'/);
  await rejectsWith(strapi.getEntries('reports', { score: { $gt: '' } }), /score/);
  await rejectsWith(strapi.getEntries('reports', { _where: { $or: [{ status: 'queued' }] } }), /Unknown filter/);
  await rejectsWith(strapi.getEntries('reports', { _where: [{ score_gte: 'x' }] }), /'_where\[0\]\[score_gte\]'/);
});
