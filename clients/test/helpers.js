'use strict';
// Shared by every test file: the service under test comes from the environment, and every
// call goes through strapi-sdk-javascript itself (no hand-written HTTP).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const Strapi = require('strapi-sdk-javascript').default;

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} must be set (see clients/README.md)`);
  }
  return value;
}

const baseURL = () => env('MAIASCORE_URL').replace(/\/+$/, '');
const identifier = () => env('MAIASCORE_IDENTIFIER');
const password = () => env('MAIASCORE_PASSWORD');

/** A new SDK client, as an application would construct it (no token yet). */
function newClient() {
  const strapi = new Strapi(baseURL());
  if (process.env.SDK_DEBUG) {
    // Shows the whole error answer the SDK then reduces to its message; the SDK itself is unchanged.
    strapi.axios.interceptors.response.use(undefined, (error) => {
      const { config, response } = error;
      if (response) {
        console.error(`${config.method.toUpperCase()} ${config.url} -> ${response.status}`,
          JSON.stringify(response.data));
      }
      return Promise.reject(error);
    });
  }
  return strapi;
}

/** A client logged in with the identifier and password from the environment. */
async function loggedIn() {
  const strapi = newClient();
  await strapi.login(identifier(), password());
  return strapi;
}

/** A prefix unique to this run and file, so tests sharing one account group never see each other's data. */
function runId(label) {
  return `sdk-${label}-${crypto.randomBytes(4).toString('hex')}`;
}

/** The SDK reduces every error answer to `new Error(body.message)`: assert on that message. */
async function rejectsWith(promise, pattern) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Error, 'the SDK throws an Error');
    assert.equal(typeof error.message, 'string');
    assert.match(error.message, pattern);
    return true;
  });
}

function ids(entries) {
  return entries.map((entry) => entry.id).sort();
}

module.exports = { assert, baseURL, identifier, password, newClient, loggedIn, runId, rejectsWith, ids };
