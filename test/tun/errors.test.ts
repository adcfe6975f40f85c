/*
 * The TUN driver's errors and lifecycle: Node-style errors (code, errno, syscall, a message
 * that says what to do) when the clone device is missing, the namespace is missing, the
 * caller lacks permission, or the name is taken; and `bsdnet tun` as a process — ready,
 * reachable, and gone (device removed, process exited) promptly after SIGTERM.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Stack } from '../../src/api/stack.js';
import { tun_create } from '../../src/net/if_tun.js';
import { BSD4, have, LINUX4, Netns, run, TUNNAME, TunLab, tunSkipReason, waitOutput } from './helpers.js';

const rootSkip = tunSkipReason();
const BIN = fileURLToPath(new URL('../../../bin/bsdnet.js', import.meta.url));
const DIST_TUN = new URL('../../src/net/if_tun.js', import.meta.url).href;

describe('tun: errors', { skip: process.platform !== 'linux' ? 'Linux only' : false }, () => {
  it('a missing clone device is ENOENT with advice (simulated with a bad path)', () => {
    const stack = new Stack({ name: 'e' });
    try {
      assert.throws(
        () => tun_create(stack.vnet, { name: 'bt9', path: '/nonexistent/net/tun' }),
        (e: Error & { code?: string; errno?: number; syscall?: string; path?: string }) => {
          assert.equal(e.code, 'ENOENT');
          assert.equal(e.errno, -2);
          assert.equal(e.syscall, 'open');
          assert.equal(e.path, '/nonexistent/net/tun');
          assert.match(e.message, /modprobe tun/);
          assert.match(e.message, /--device \/dev\/net\/tun/);
          return true;
        },
      );
      assert.equal(stack.vnet.ifnet.has('bt9'), false, 'nothing attached');
    } finally {
      stack.destroy();
    }
  });

  it('a missing network namespace is ENOENT naming `ip netns add`', () => {
    const stack = new Stack({ name: 'e' });
    try {
      assert.throws(
        () => tun_create(stack.vnet, { name: 'bt9', netns: 'bsdnet-t-does-not-exist' }),
        (e: Error & { code?: string }) => e.code === 'ENOENT' && /ip netns add bsdnet-t-does-not-exist/.test(e.message),
      );
    } finally {
      stack.destroy();
    }
  });

  it('bad arguments are Node argument errors', () => {
    const stack = new Stack({ name: 'e' });
    try {
      assert.throws(() => tun_create(stack.vnet, { name: 'a-name-that-is-too-long' }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => tun_create(stack.vnet, { name: 'bt9', mtu: 20 }), { code: 'ERR_OUT_OF_RANGE' });
    } finally {
      stack.destroy();
    }
  });

  /** Try tun_create in a child process run through setpriv with `privArgs`. */
  async function unprivileged(privArgs: string[]): Promise<{ code: string; syscall: string; message: string } | 'CREATED' | string> {
    const script = [
      `import { Vnet } from ${JSON.stringify(new URL('../../src/vnet.js', import.meta.url).href)};`,
      `import { tun_create } from ${JSON.stringify(DIST_TUN)};`,
      "const V = new Vnet({ name: 'x' });",
      "try { tun_create(V, { name: 'bsdnetnope0' }); console.log('CREATED'); }",
      'catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })); }',
      'V.destroy();',
    ].join('\n');
    const r = await run('setpriv', [...privArgs, process.execPath, '--input-type=module', '-e', script], { timeoutMs: 15_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (line === 'CREATED') return line;
    if (!line.startsWith('{')) return `${r.stdout}${r.stderr}`;
    return JSON.parse(line) as { code: string; syscall: string; message: string };
  }

  it('root without CAP_NET_ADMIN: EPERM from TUNSETIFF with advice', { skip: rootSkip ?? (have('setpriv') ? false : 'needs setpriv') }, async () => {
    const e = await unprivileged(['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all']);
    assert.notEqual(e, 'CREATED', 'a process without CAP_NET_ADMIN must not create a TUN device');
    assert.equal(typeof e, 'object', String(e));
    const err = e as { code: string; syscall: string; message: string };
    assert.equal(err.code, 'EPERM');
    assert.equal(err.syscall, 'ioctl');
    assert.match(err.message, /CAP_NET_ADMIN/);
  });

  it('an unprivileged user: EACCES (open) or EPERM (TUNSETIFF) with advice', { skip: rootSkip ?? (have('setpriv') ? false : 'needs setpriv') }, async (t) => {
    const e = await unprivileged(['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']);
    assert.notEqual(e, 'CREATED', 'an unprivileged user must not create a TUN device');
    if (typeof e === 'string') {
      // The checkout is not readable by nobody (e.g. under /root): nothing to learn here.
      t.skip(`the unprivileged child could not load bsdnet: ${e.slice(0, 200)}`);
      return;
    }
    const mode = statSync('/dev/net/tun').mode & 0o777;
    if ((mode & 0o006) === 0o006) {
      assert.equal(e.code, 'EPERM');
      assert.equal(e.syscall, 'ioctl');
      assert.match(e.message, /CAP_NET_ADMIN/);
    } else {
      assert.equal(e.code, 'EACCES');
      assert.equal(e.syscall, 'open');
      assert.match(e.message, /needs root/);
    }
  });

  it('a name taken by another open device is EBUSY', { skip: rootSkip ?? false }, () => {
    const lab = new TunLab();
    const other = new Stack({ name: 'other' });
    try {
      assert.throws(
        () => tun_create(other.vnet, { name: TUNNAME, netns: lab.ns.name }),
        (e: Error & { code?: string }) => e.code === 'EBUSY' && /another process has it open/.test(e.message),
      );
    } finally {
      other.destroy();
      lab.close();
    }
  });

  it('`bsdnet tun` runs until SIGTERM, answers, then removes the device and exits promptly', {
    skip: rootSkip ?? (have('ping') ? false : 'needs ping'),
  }, async () => {
    const ns = new Netns();
    const child = spawn(
      process.execPath,
      [BIN, 'tun', '--name', TUNNAME, '--netns', ns.name, '--addr', `${BSD4}/24`, '--gw', LINUX4, '--configure-host', '--echo', '7'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await waitOutput(child, 'ready', 10_000);
      assert.match(ns.ip('addr', 'show', TUNNAME), new RegExp(`inet ${LINUX4.replace(/\./g, '\\.')}/24`));
      const p = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', BSD4], { timeoutMs: 10_000 });
      assert.match(p.stdout, /2 received/);
      if (have('socat')) {
        const u = await ns.exec('socat', ['-t', '2', '-', `UDP4:${BSD4}:7`], { timeoutMs: 10_000, input: 'echo me\n' });
        assert.equal(u.stdout, 'echo me\n');
      }
      const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
        const t0 = Date.now();
        child.on('exit', (code) => resolve({ code, ms: Date.now() - t0 }));
      });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.kill('SIGTERM');
      const { code, ms } = await exited;
      assert.equal(code, 0);
      assert.ok(ms < 3000, `exit took ${ms} ms`);
      assert.match(out, /SIGTERM: bt0 removed; ipackets \d+/);
      assert.throws(() => ns.ip('link', 'show', TUNNAME));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      ns.close();
    }
  });

  it('`bsdnet tun` usage errors exit 2', async () => {
    const r = await run(process.execPath, [BIN, 'tun', '--name', 'bt9'], { timeoutMs: 10_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--addr is required/);
  });
});
