'use strict';
// forgotPassword / resetPassword (issue 11, item 6), as Strapi v3's users-permissions plugin
// defines them: the answer never tells whether the email exists; a wrong code is refused.
const { test } = require('node:test');
const { assert, identifier, newClient, rejectsWith } = require('./helpers');

test('forgotPassword answers the same for a known and an unknown email', async () => {
  const strapi = newClient();
  await strapi.forgotPassword(identifier(), 'https://app.example.com/reset-password');
  await strapi.forgotPassword('nobody-at-all@example.com', 'https://app.example.com/reset-password');
  assert.equal(strapi.axios.defaults.headers.common.Authorization, undefined);
});

test('resetPassword refuses a wrong code and mismatched passwords with a message', async () => {
  const strapi = newClient();
  await rejectsWith(strapi.resetPassword('not-a-real-code', 'new-password-123', 'new-password-123'), /.+/);
  await rejectsWith(strapi.resetPassword('not-a-real-code', 'new-password-123', 'other-password-123'), /.+/);
});
