/*
 * node:tls over stack.net, unchanged: tls.connect({socket}) on the client and
 * new tls.TLSSocket(socket, {isServer: true}) on the server, an echo in both directions,
 * and HTTPS (node:https request through a bsdnet socket to an http server fed with
 * TLSSockets). The certificate is a test-only self-signed P-256 one in fixtures/.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { listen, pair, within } from './helpers.js';

const FIXTURES = new URL('../../../test/api/fixtures/', import.meta.url);
const key = readFileSync(new URL('test-key.pem', FIXTURES));
const cert = readFileSync(new URL('test-cert.pem', FIXTURES));
const secureContext = tls.createSecureContext({ key, cert });

const T = { timeout: 20_000 };

describe('node:tls over stack.net', () => {
  it('TLS echo: tls.connect({socket}) against new TLSSocket(sock, {isServer})', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const server = b.net.createServer((raw) => {
        const t = new tls.TLSSocket(raw, { isServer: true, secureContext });
        t.on('error', () => undefined);
        t.pipe(t);
      });
      const port = await listen(server, 0, '10.0.0.2');
      const raw = a.net.connect(port, '10.0.0.2');
      const t = tls.connect({ socket: raw, ca: cert, servername: 'bsdnet.test' });
      await within(5000, once(t, 'secureConnect'), 'handshake');
      assert.equal(t.authorized, true, String(t.authorizationError));
      assert.equal(t.getPeerCertificate().subject.CN, 'bsdnet.test');
      const data = randomBytes(200_000);
      const h = createHash('sha256');
      let n = 0;
      const got = new Promise<void>((resolve) => {
        t.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
          if (n === data.length) resolve();
        });
      });
      t.write(data);
      await within(10_000, got, 'TLS echo');
      assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
      t.end();
      await within(5000, once(raw, 'close'), 'tcp close');
      server.close();
    } finally {
      destroy();
    }
  });

  it('HTTPS: node:https client and an http server over TLSSockets on bsdnet', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const app = http.createServer((req, res) => res.end(`secure ${req.url}`));
      const server = b.net.createServer((raw) => {
        const t = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
        t.on('error', () => undefined);
        app.emit('connection', t);
      });
      const port = await listen(server, 0, '10.0.0.2');
      const body = await within(
        10_000,
        new Promise<string>((resolve, reject) => {
          const req = https.request({
            host: '10.0.0.2',
            port,
            path: '/hello',
            servername: 'bsdnet.test',
            ca: cert,
            createConnection: () => tls.connect({ socket: a.net.connect(port, '10.0.0.2'), ca: cert, servername: 'bsdnet.test' }),
          });
          req.on('error', reject);
          req.on('response', (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => resolve(Buffer.concat(parts).toString()));
          });
          req.end();
        }),
        'HTTPS GET',
      );
      assert.equal(body, 'secure /hello');
      server.close();
    } finally {
      destroy();
    }
  });
});
