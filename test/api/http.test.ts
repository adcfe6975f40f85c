/*
 * node:http over stack.net, unchanged: the http server takes bsdnet sockets through its
 * 'connection' event; the client reaches bsdnet through createConnection, either directly
 * on the request or in an http.Agent subclass with keep-alive (two requests on one
 * connection). Bodies are checked by SHA-256.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import type { Server, Socket } from '../../src/api/net.js';
import type { Stack } from '../../src/api/stack.js';
import { listen, pair, within } from './helpers.js';

const T = { timeout: 20_000 };

/** An http.Agent whose connections are bsdnet sockets of `stack`. */
class StackAgent extends http.Agent {
  constructor(
    private readonly stack: Stack,
    opts: http.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(options: { port?: number | string | null; host?: string | null }): Duplex {
    return this.stack.net.connect({ port: Number(options.port), host: options.host ?? 'localhost' });
  }
}

interface Site {
  net: Server;
  http: http.Server;
  port: number;
  connections: Socket[];
}

/** An http.Server fed by a bsdnet listener on b. */
async function site(b: Stack, handler: http.RequestListener): Promise<Site> {
  const httpServer = http.createServer({ keepAliveTimeout: 5000 }, handler);
  const connections: Socket[] = [];
  const net = b.net.createServer((s) => {
    connections.push(s);
    httpServer.emit('connection', s);
  });
  const port = await listen(net, 0, '10.0.0.2');
  return { net, http: httpServer, port, connections };
}

function fetchBody(req: http.ClientRequest): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ res, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
  });
}

describe('node:http over stack.net', () => {
  it('GET and POST through a keep-alive Agent reuse one connection', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const s = await site(b, (req, res) => {
        if (req.method === 'GET') {
          res.setHeader('content-type', 'text/plain');
          res.end(`hello ${req.url} from ${req.socket.remoteAddress}`);
          return;
        }
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        req.on('end', () => res.end(JSON.stringify({ n, sha256: h.digest('hex') })));
      });
      const agent = new StackAgent(a, { keepAlive: true, maxSockets: 1 });
      const r1 = await within(5000, fetchBody(http.get({ host: '10.0.0.2', port: s.port, path: '/one', agent })), 'GET 1');
      assert.equal(r1.res.statusCode, 200);
      assert.equal(r1.body.toString(), 'hello /one from 10.0.0.1');
      const r2 = http.get({ host: '10.0.0.2', port: s.port, path: '/two', agent });
      const r2b = await within(5000, fetchBody(r2), 'GET 2');
      assert.equal(r2b.body.toString(), 'hello /two from 10.0.0.1');
      assert.equal(r2.reusedSocket, true, 'second request rides the kept-alive socket');

      const body = randomBytes(300_000);
      const post = http.request({ host: '10.0.0.2', port: s.port, path: '/upload', method: 'POST', agent, headers: { 'content-length': body.length } });
      const done = fetchBody(post);
      post.end(body);
      const r3 = await within(10_000, done, 'POST');
      assert.deepEqual(JSON.parse(r3.body.toString()), { n: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      assert.equal(post.reusedSocket, true);
      assert.equal(s.connections.length, 1, 'one TCP connection for all three requests');

      agent.destroy();
      s.net.close();
      await within(5000, once(s.net, 'close'), 'server drained');
    } finally {
      destroy();
    }
  });

  it('a request with createConnection and no agent; large response streamed back', T, async () => {
    const { a, b, destroy } = pair();
    try {
      const blob = randomBytes(2 << 20);
      const s = await site(b, (_req, res) => {
        res.writeHead(200, { 'content-length': blob.length });
        res.end(blob);
      });
      const req = http.request({
        host: '10.0.0.2',
        port: s.port,
        path: '/blob',
        createConnection: () => a.net.connect({ port: s.port, host: '10.0.0.2' }),
      });
      const done = fetchBody(req);
      req.end();
      const r = await within(15_000, done, 'GET blob');
      assert.equal(r.res.statusCode, 200);
      assert.equal(r.body.length, blob.length);
      assert.ok(r.body.equals(blob));
      s.net.close();
      await within(5000, once(s.net, 'close'), 'server drained');
    } finally {
      destroy();
    }
  });

  it("the http server's idle timeout reaps a kept-alive connection (socket.setTimeout really fires)", T, async () => {
    const { a, b, destroy } = pair();
    try {
      const s = await site(b, (_req, res) => res.end('ok'));
      s.http.keepAliveTimeout = 200;
      const agent = new StackAgent(a, { keepAlive: true });
      const r = await within(5000, fetchBody(http.get({ host: '10.0.0.2', port: s.port, path: '/', agent })), 'GET');
      assert.equal(r.body.toString(), 'ok');
      const conn = s.connections[0] as Socket;
      await within(5000, once(conn, 'close'), 'server closes the idle connection');
      agent.destroy();
      s.net.close();
    } finally {
      destroy();
    }
  });
});
