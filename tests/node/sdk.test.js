// Drives the Stripe emulator with Stripe's official Node library (stripe-node, pinned in
// package.json), the second SDK beside stripe-python: what one SDK relies on and the
// other does not shows up here. Run by tests/e2e/test_stripe_node.py with STRIPE_API_BASE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Stripe from 'stripe';

const base = new URL(process.env.STRIPE_API_BASE || 'http://127.0.0.1:12111');

function client() {
  const key = 'sk_test_node' + Math.random().toString(36).slice(2, 14);
  return new Stripe(key, {
    host: base.hostname,
    port: Number(base.port),
    protocol: 'http',
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

test('create, retrieve and update a customer', async () => {
  const stripe = client();
  const c = await stripe.customers.create({ email: 'node@example.com', metadata: { sdk: 'node' } });
  assert.match(c.id, /^cus_/);
  assert.equal(c.object, 'customer');
  const again = await stripe.customers.retrieve(c.id);
  assert.equal(again.email, 'node@example.com');
  const named = await stripe.customers.update(c.id, { name: 'Node Person' });
  assert.equal(named.name, 'Node Person');
  assert.equal(named.metadata.sdk, 'node');
});

test('lists page with auto-pagination, newest first', async () => {
  const stripe = client();
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push((await stripe.customers.create({ email: `page${i}@example.com` })).id);
  }
  const seen = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 10 });
  assert.deepEqual(seen.map((c) => c.id), [...made].reverse());
  const first = await stripe.customers.list({ limit: 2 });
  assert.equal(first.has_more, true);
  assert.equal(first.url, '/v1/customers');
});

test('an idempotent create replays its first answer', async () => {
  const stripe = client();
  const key = 'node-' + Math.random().toString(36).slice(2);
  const a = await stripe.customers.create({ email: 'once@example.com' }, { idempotencyKey: key });
  const b = await stripe.customers.create({ email: 'once@example.com' }, { idempotencyKey: key });
  assert.equal(b.id, a.id);
  assert.equal(b.lastResponse.headers['idempotent-replayed'], 'true');
  await assert.rejects(
    stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: key }),
    (e) => e.type === 'StripeIdempotencyError' || e.rawType === 'idempotency_error',
  );
});

test('errors arrive as Stripe error classes with Stripe codes', async () => {
  const stripe = client();
  await assert.rejects(stripe.customers.retrieve('cus_doesnotexist'), (e) => {
    assert.equal(e.type, 'StripeInvalidRequestError');
    assert.equal(e.code, 'resource_missing');
    assert.equal(e.statusCode, 404);
    assert.match(e.requestId, /^req_/);
    return true;
  });
  await assert.rejects(stripe.customers.create({ emial: 'typo@example.com' }), (e) => {
    assert.equal(e.code, 'parameter_unknown');
    assert.equal(e.param, 'emial');
    return true;
  });
});

test('webhook deliveries verify with webhooks.constructEvent', async () => {
  const stripe = client();
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ body, signature: req.headers['stripe-signature'] });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const endpoint = await stripe.webhookEndpoints.create({
      url: `http://127.0.0.1:${server.address().port}/hook`,
      enabled_events: ['customer.created'],
    });
    assert.match(endpoint.secret, /^whsec_/);
    const c = await stripe.customers.create({ email: 'hooked@example.com' });
    const deadline = Date.now() + 10000;
    while (received.length < 1 && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    assert.equal(received.length, 1);
    const event = stripe.webhooks.constructEvent(received[0].body, received[0].signature, endpoint.secret);
    assert.equal(event.type, 'customer.created');
    assert.equal(event.data.object.id, c.id);
    assert.throws(() => stripe.webhooks.constructEvent(received[0].body, received[0].signature, 'whsec_wrong'));
  } finally {
    server.close();
  }
});
