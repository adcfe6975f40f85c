/*
 * A TCP stack in a child process for the --attach tests of netstat and trace: the scene of
 * tcp_scene.ts, with the SERVER's control channel on the path given as argv[2] and a few
 * bytes sent on c2 every 20 ms (so live traces have events). Prints "READY <json>" (the
 * client ports) when listening; exits when stdin closes.
 */

import { tcpScene } from './tcp_scene.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: child_tcp.js CONTROL_PATH\n');
  process.exit(2);
}

const scene = await tcpScene();
await scene.server.listenControl(path);
const timer = setInterval(() => scene.c2.write('ping'), 20);
process.stdout.write(`READY ${JSON.stringify({ ...scene.ports, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  clearInterval(timer);
  scene.destroy();
  process.exit(0);
});
