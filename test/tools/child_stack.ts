/*
 * A stack in a child process for the --attach tests: two instances ("host" and "peer")
 * joined by an epair, UDP sockets of both families on the host (bound, connected, dual-
 * stack), a static route, and a datagram from host to peer every 20 ms. The host serves its
 * control channel on the path given as argv[2]; when it is listening the script prints one
 * line "READY <json>" describing what it built, and it exits when stdin closes.
 */

import { Stack } from '../../src/api/stack.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: child_stack.js CONTROL_PATH\n');
  process.exit(2);
}

const host = new Stack({ name: 'host', seed: 7 });
const peer = new Stack({ name: 'peer', seed: 8 });
const [ha, pb] = Stack.epair(host, peer);
host.addAddress(ha, '10.0.0.1/24');
peer.addAddress(pb, '10.0.0.2/24');
host.addAddress(ha, '2001:db8::1/64');
host.addRoute('192.168.0.0/16', '10.0.0.254');

const sink = peer.dgram.createSocket('udp4');
sink.bind(9999, '10.0.0.2');
const bound = host.dgram.createSocket('udp4');
bound.bind(5353);
const dual = host.dgram.createSocket('udp6');
dual.bind(7000);
const conn = host.dgram.createSocket('udp4');
conn.connect(9999, '10.0.0.2', () => {
  const timer = setInterval(() => conn.send('hello'), 20);
  void host
    .listenControl(path)
    .then(() => {
      const info = {
        ifname: ha.if_xname,
        connectedPort: conn.address().port,
        pid: process.pid,
      };
      process.stdout.write(`READY ${JSON.stringify(info)}\n`);
    })
    .catch((e: Error) => {
      process.stderr.write(`listenControl: ${e.message}\n`);
      process.exit(1);
    });
  process.stdin.resume();
  process.stdin.on('end', () => {
    clearInterval(timer);
    host.destroy();
    peer.destroy();
    process.exit(0);
  });
});
