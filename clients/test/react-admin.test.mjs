// react-admin's Strapi v3 data provider, `ra-strapi-rest` 0.1.3, unchanged, with react-admin 5's
// `fetchUtils.fetchJson` and `convertLegacyDataProvider`, as an admin app built on them calls MaiaScore.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { convertLegacyDataProvider, fetchUtils } from 'react-admin';
import strapiRestProvider from 'ra-strapi-rest';

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} must be set (see clients/README.md)`);
  return process.env[name];
};
const apiUrl = env('MAIASCORE_URL').replace(/\/+$/, '');
const run = `ra-${crypto.randomBytes(4).toString('hex')}`;
const page = (number, perPage) => ({ page: number, perPage });

let session;
let dataProvider;
const created = [];

// The provider's README login: POST /auth/local, keep the jwt and `user.role.name`.
async function login() {
  const answer = await fetch(`${apiUrl}/auth/local`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ identifier: env('MAIASCORE_IDENTIFIER'), password: env('MAIASCORE_PASSWORD') }),
  });
  assert.equal(answer.status, 200);
  const { jwt, user } = await answer.json();
  return { token: jwt, user, role: user.role.name };
}

let ready;
const setup = () => {
  ready = ready || (async () => {
    session = await login();
    const httpClient = (url, options = {}) => {
      options.user = { authenticated: true, token: `Bearer ${session.token}` };
      return fetchUtils.fetchJson(url, options);
    };
    dataProvider = convertLegacyDataProvider(strapiRestProvider(apiUrl, httpClient));
    for (const [index, name] of ['Alice Martin', 'Bruno Alves', 'Chloe Martinez', 'Dara Okafor'].entries()) {
      const { data } = await dataProvider.create('reports', {
        data: { uuid: `${run}-${index}`, referenceId: `${run} ${name}`, features: { income: 1000 * (index + 1) } },
      });
      created.push(data);
    }
  })();
  return ready;
};

test('login stores the Strapi role object the provider documents', async () => {
  await setup();
  assert.equal(session.role, 'Account Admin');
  assert.deepEqual(Object.keys(session.user.role).sort(), ['description', 'id', 'name', 'type']);
});

test('create returns the data sent with the new id', async () => {
  await setup();
  assert.equal(created.length, 4);
  for (const report of created) assert.match(String(report.id), /^[0-9a-f]{24}$/);
  assert.equal(created[0].uuid, `${run}-0`);
});

test('getList with the search box sends _q and finds the text in any case', async () => {
  await setup();
  const { data, total } = await dataProvider.getList('reports', {
    pagination: page(1, 10), sort: { field: 'uuid', order: 'ASC' }, filter: { q: 'MARTIN' },
  });
  const mine = data.filter((r) => r.uuid.startsWith(run));
  assert.deepEqual(mine.map((r) => r.uuid), [`${run}-0`, `${run}-2`]);
  assert.equal(total, data.length);
});

test('getList pages and sorts, with the total from /count', async () => {
  await setup();
  const query = { sort: { field: 'uuid', order: 'DESC' }, filter: { uuid_contains: run } };
  const first = await dataProvider.getList('reports', { ...query, pagination: page(1, 3) });
  const second = await dataProvider.getList('reports', { ...query, pagination: page(2, 3) });
  assert.equal(first.total, 4);
  assert.deepEqual(first.data.map((r) => r.uuid), [`${run}-3`, `${run}-2`, `${run}-1`]);
  assert.deepEqual(second.data.map((r) => r.uuid), [`${run}-0`]);
});

test('getList filters on fields and operators', async () => {
  await setup();
  const { data, total } = await dataProvider.getList('reports', {
    pagination: page(1, 10), sort: { field: 'id', order: 'ASC' },
    filter: { uuid_in: `${run}-1,${run}-3`, type: 'reference' },
  });
  assert.deepEqual(data.map((r) => r.uuid), [`${run}-1`, `${run}-3`]);
  assert.equal(total, 2);
});

test('getOne replaces the owner object by its id', async () => {
  await setup();
  const { data } = await dataProvider.getOne('reports', { id: created[1].id });
  assert.equal(data.id, created[1].id);
  assert.equal(data.referenceId, `${run} Bruno Alves`);
  assert.equal(data.users_permissions_user, session.user.id);
});

test('getMany reads each id', async () => {
  await setup();
  const { data } = await dataProvider.getMany('reports', { ids: [created[0].id, created[2].id] });
  assert.deepEqual(data.map((r) => r.uuid), [`${run}-0`, `${run}-2`]);
});

test('getManyReference lists the reports of one user', async () => {
  await setup();
  const { data, total } = await dataProvider.getManyReference('reports', {
    target: 'users_permissions_user_id', id: session.user.id, pagination: page(1, 100),
    sort: { field: 'uuid', order: 'ASC' }, filter: { uuid_contains: run },
  });
  assert.equal(total, 4);
  assert.deepEqual(data.map((r) => r.uuid), created.map((r) => r.uuid));
});

test('update sends the edited record back', async () => {
  await setup();
  const { data: record } = await dataProvider.getOne('reports', { id: created[0].id });
  const { data } = await dataProvider.update('reports', {
    id: record.id, data: { ...record, outcome: 'good' }, previousData: record,
  });
  assert.equal(data.outcome, 'good');
  assert.equal(data.id, record.id);
});

test('updateMany updates each id', async () => {
  await setup();
  const ids = [created[1].id, created[2].id];
  const { data } = await dataProvider.updateMany('reports', { ids, data: { outcome: 'bad' } });
  assert.deepEqual(data.map((r) => r.outcome), ['bad', 'bad']);
  const { data: again } = await dataProvider.getMany('reports', { ids });
  assert.deepEqual(again.map((r) => r.outcome), ['bad', 'bad']);
});

test('delete and deleteMany remove the reports', async () => {
  await setup();
  await dataProvider.delete('reports', { id: created[3].id, previousData: created[3] });
  await dataProvider.deleteMany('reports', { ids: [created[0].id, created[1].id, created[2].id] });
  const { total } = await dataProvider.getList('reports', {
    pagination: page(1, 10), sort: { field: 'id', order: 'ASC' }, filter: { uuid_contains: run },
  });
  assert.equal(total, 0);
  await assert.rejects(dataProvider.getOne('reports', { id: created[3].id }), (error) => error.status === 404);
});

test('an error answer reaches react-admin as an HttpError with its status and message', async () => {
  await setup();
  await assert.rejects(
    dataProvider.getList('reports', { pagination: page(1, 5), sort: { field: 'nope', order: 'ASC' }, filter: {} }),
    (error) => error.status === 400 && /Cannot sort by 'nope'/.test(error.message),
  );
});
