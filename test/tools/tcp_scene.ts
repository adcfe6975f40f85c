/*
 * A TCP scene for the tool tests (in-process and in child_tcp.ts): a client (10.0.0.1) and a
 * server (10.0.0.2) on an epair, real clock, with TCP connections in several states.
 *
 *   server  LISTEN 10.0.0.2.8080 (accepted sockets paused: data stays in their receive buffers)
 *           LISTEN *.9090 (dual stack), LISTEN 10.0.0.2.7070 (closes when the peer closes)
 *   c1      ESTABLISHED to 8080, 20000 bytes sent (queued in the server's Recv-Q)
 *   c2      ESTABLISHED to 8080, idle
 *   c3      closed by the client; the paused server never closes: FIN_WAIT_2 / CLOSE_WAIT
 *   c4      to 7070, closed by the client first: a vestigial TIME_WAIT on the client
 * The server logs every connection to port 8080 in its black box (net.inet.tcp.bb.log_auto_port).
 */

import { once } from 'node:events';
import type { Server, Socket } from '../../src/api/net.js';
import { Stack } from '../../src/api/stack.js';

export interface TcpScene {
  client: Stack;
  server: Stack;
  servers: Server[];
  c1: Socket;
  c2: Socket;
  c3: Socket;
  ports: { c1: number; c2: number; c3: number; c4: number };
  destroy(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function connect(s: Stack, port: number): Promise<Socket> {
  const c = s.net.connect(port, '10.0.0.2');
  await once(c, 'connect');
  c.on('data', () => undefined);
  return c;
}

export async function tcpScene(): Promise<TcpScene> {
  const client = new Stack({ name: 'client', seed: 31 });
  const server = new Stack({ name: 'server', seed: 32 });
  const [ea, eb] = Stack.epair(client, server);
  client.addAddress(ea, '10.0.0.1/24');
  server.addAddress(eb, '10.0.0.2/24');
  server.sysctlSet('net.inet.tcp.bb.log_auto_port', 8080);
  const paused = server.net.createServer({ pauseOnConnect: true }, () => undefined);
  const dual = server.net.createServer(() => undefined);
  const closer = server.net.createServer((s) => {
    s.on('data', () => undefined);
    s.on('end', () => s.end());
  });
  paused.listen(8080, '10.0.0.2');
  dual.listen(9090);
  closer.listen(7070, '10.0.0.2');
  await Promise.all([once(paused, 'listening'), once(dual, 'listening'), once(closer, 'listening')]);
  const c1 = await connect(client, 8080);
  const c2 = await connect(client, 8080);
  const c3 = await connect(client, 8080);
  const c4 = await connect(client, 7070);
  const ports = { c1: c1.localPort ?? 0, c2: c2.localPort ?? 0, c3: c3.localPort ?? 0, c4: c4.localPort ?? 0 };
  c1.write(Buffer.alloc(20000, 1));
  c3.end();
  c4.end();
  await once(c4, 'close');
  await sleep(100);
  return {
    client,
    server,
    servers: [paused, dual, closer],
    c1,
    c2,
    c3,
    ports,
    destroy: () => {
      for (const c of [c1, c2, c3]) c.destroy();
      for (const s of [paused, dual, closer]) s.close();
      client.destroy();
      server.destroy();
    },
  };
}
