/*
 * The TUN driver's receive thread (a worker_thread started by if_tun.ts).
 *
 * It owns no stack state: it moves packets from the kernel into a shared byte ring that the
 * main thread drains. The loop (measured fastest on these machines, integration notes §1 F):
 * read the O_NONBLOCK fd until EAGAIN, each packet straight into the ring (no copy here),
 * publish the producer position, ring the doorbell if the main thread asked for one, then
 * sleep in poll() on the TUN fd and an eventfd that the main thread writes to stop us.
 *
 * Ring records are [u32 length][bytes][pad to 4]; a length of RING_WRAP means "continue at
 * offset 0". Positions are free-running uint32 byte counters; capacity is a power of two.
 * When the ring has no room for a maximal packet the packet is read into a scratch buffer
 * and dropped (counted in C_DROPS): the ring is the driver's bounded input queue.
 *
 * The poll timeout also paces a check of the device MTU (SIOCGIFMTU on a socket made in the
 * device's network namespace), so `ip link set NAME mtu N` on the Linux side reaches the
 * Ifnet.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { IFREQ_SIZE, ifreq, LINUX_EAGAIN, LINUX_EINTR, loadLibc, POLLIN, SIOCGIFMTU } from './tun_sys.js';

// Control words (Int32Array over a SharedArrayBuffer), shared with if_tun.ts.
export const C_WPOS = 0;
export const C_RPOS = 1;
export const C_ARMED = 2;
export const C_STATE = 3;
export const C_STOP = 4;
export const C_DROPS = 5;
export const C_ERRNO = 6;
export const C_MTU = 7;
export const C_WAKEUPS = 8;
export const C_READS = 9;
export const C_WORDS = 16;
export const STATE_STARTING = 0;
export const STATE_RUNNING = 1;
export const STATE_EXITED = 2;
export const RING_WRAP = 0xffffffff;

export interface TunWorkerData {
  /** Marks the workerData of this module. */
  bsdnetTun: true;
  fd: number;
  efd: number;
  ctlfd: number;
  ifname: string;
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  /** Largest packet a read may return (bytes). */
  readMax: number;
  /** Interval between MTU checks (ms). */
  mtuCheckMs: number;
}

function run(d: TunWorkerData): void {
  const ctl = new Int32Array(d.ctl);
  const ring = new Uint8Array(d.ring);
  const ring32 = new Uint32Array(d.ring);
  const cap = ring.length;
  const mask = cap - 1;
  const readMax = d.readMax;
  const need = 4 + ((readMax + 3) & ~3);
  const scratch = new Uint8Array(readMax);
  const libc = loadLibc();
  const pfd = Buffer.alloc(16);
  pfd.writeInt32LE(d.fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  pfd.writeInt32LE(d.efd, 8);
  pfd.writeInt16LE(POLLIN, 12);
  const ifr = ifreq(d.ifname);
  let lastMtuCheck = Date.now();
  Atomics.store(ctl, C_STATE, 1);

  let w = Atomics.load(ctl, C_WPOS) >>> 0;
  const publish = (): void => {
    Atomics.store(ctl, C_WPOS, w | 0);
    if (Atomics.load(ctl, C_ARMED) === 1 && Atomics.compareExchange(ctl, C_ARMED, 1, 0) === 1) parentPort?.postMessage(0);
  };

  while (Atomics.load(ctl, C_STOP) === 0) {
    let batch = 0;
    for (;;) {
      const r = Atomics.load(ctl, C_RPOS) >>> 0;
      let free = cap - ((w - r) >>> 0);
      let idx = w & mask;
      const contig = cap - idx;
      if (contig < need && free >= contig + need) {
        ring32[idx >>> 2] = RING_WRAP;
        w = (w + contig) >>> 0;
        free -= contig;
        idx = 0;
      }
      let n: number;
      if (free < need || cap - idx < need) {
        n = libc.read(d.fd, scratch, readMax);
        if (n >= 0) {
          Atomics.add(ctl, C_DROPS, 1);
          continue;
        }
      } else {
        n = libc.read(d.fd, ring.subarray(idx + 4, idx + 4 + readMax), readMax);
        if (n >= 0) {
          ring32[idx >>> 2] = n;
          w = (w + 4 + ((n + 3) & ~3)) >>> 0;
          // Let the main thread start on a long burst before it ends.
          if (++batch % 64 === 0) publish();
          continue;
        }
      }
      const e = libc.errno();
      if (e === LINUX_EAGAIN) break;
      if (e === LINUX_EINTR) continue;
      // The device went away under us (EBADFD, EIO...): report and stop reading.
      Atomics.store(ctl, C_ERRNO, e);
      publish();
      parentPort?.postMessage({ error: e });
      Atomics.store(ctl, C_STATE, 2);
      Atomics.notify(ctl, C_STATE);
      return;
    }
    if (batch > 0) Atomics.add(ctl, C_READS, batch);
    publish();
    const now = Date.now();
    if (now - lastMtuCheck >= d.mtuCheckMs) {
      lastMtuCheck = now;
      if (d.ctlfd >= 0 && libc.ioctl(d.ctlfd, SIOCGIFMTU, ifr) === 0 && ifr.length === IFREQ_SIZE) {
        const mtu = ifr.readInt32LE(16);
        if (mtu !== Atomics.load(ctl, C_MTU)) {
          Atomics.store(ctl, C_MTU, mtu);
          parentPort?.postMessage({ mtu });
        }
      }
    }
    libc.poll(pfd, 2, d.mtuCheckMs);
    Atomics.add(ctl, C_WAKEUPS, 1);
  }
  Atomics.store(ctl, C_STATE, 2);
  Atomics.notify(ctl, C_STATE);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && (workerData as { bsdnetTun?: boolean }).bsdnetTun === true) {
  const d = workerData as TunWorkerData;
  // A stop requested before we ran: exit at once.
  if (Atomics.load(new Int32Array(d.ctl), C_STOP) === 0) run(d);
  else {
    const ctl = new Int32Array(d.ctl);
    Atomics.store(ctl, C_STATE, 2);
    Atomics.notify(ctl, C_STATE);
  }
}
