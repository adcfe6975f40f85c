/*
 * The TUN/TAP driver: an Ifnet of a Vnet backed by a Linux TUN (or TAP) device, so a bsdnet
 * host talks to the real Linux kernel (FreeBSD sys/net/if_tuntap.c is the BSD counterpart;
 * here bsdnet is the user-space end of a Linux device).
 *
 *   tun_create(V, { name, mode, netns, mtu }) opens /dev/net/tun, TUNSETIFF with
 *   IFF_TUN|IFF_NO_PI (or IFF_TAP|IFF_NO_PI) creates the Linux interface or attaches to an
 *   existing persistent one, reads its MTU, and attaches an Ifnet of the same name.
 *
 * TUN mode carries bare IPv4/IPv6 datagrams (no link header, no ARP/ND resolution: the
 * Ifnet's if_output writes the datagram as it is; input is dispatched to NETISR_IP or
 * NETISR_IPV6 by the version nibble). TAP mode carries Ethernet frames through
 * ether_input/ether_output like any Ethernet driver.
 *
 * Receive: a worker thread (if_tun_worker.ts) reads the non-blocking fd until EAGAIN into a
 * bounded shared byte ring, then sleeps in poll(). It rings a doorbell (one message) only
 * when the main thread has drained the ring and armed it, so a burst costs one wake-up.
 * The doorbell defers this driver's soft task on the instance clock; the soft task copies
 * each packet into an mbuf (the one copy at the driver boundary) and hands it up, at most
 * net.link.tun.rxbatch packets per run before yielding to other soft work. A full ring
 * drops (if_iqdrops). Transmit: one write() per packet on the calling thread (the kernel
 * takes exactly one packet per write; never batch through a stream).
 *
 * Shutdown: detaching the interface (or destroying the Vnet) stops the worker through an
 * eventfd, waits for it (bounded), and closes the fd; a non-persistent device disappears at
 * once. Checksums are computed by the stack (if_hwassist = 0): the kernel verifies what it
 * receives from a TUN like any packet from a wire.
 *
 * The worker keeps the process alive while the interface is attached (like a listening
 * server); unref() on the softc lets the process exit anyway.
 */

import { Worker } from 'node:worker_threads';
import type { SoftTask } from '../kern/clock.js';
import { type Mbuf, m_freem, m_tobuf } from '../mbuf/mbuf.js';
import { IN6_IFF_NODAD, ND6_IFF_NO_DAD } from '../netinet6/in6_var.js';
import { EAFNOSUPPORT, EINVAL, EIO, EMSGSIZE, ENETDOWN, ENOBUFS } from '../sys/errno.js';
import type { Vnet } from '../vnet.js';
import { BPF_D_IN, BPF_D_OUT, bpf_mtap } from './bpf.js';
import { ether_ifattach, type LinkDst } from './if_ethersubr.js';
import { IFF_DRV_RUNNING, IFF_MULTICAST, IFF_UP, IFT_PROPVIRTUAL, Ifnet, if_inc_ipackets, if_inc_opackets, LINK_STATE_DOWN, LINK_STATE_UP } from './if.js';
import {
  C_ARMED,
  C_DROPS,
  C_ERRNO,
  C_MTU,
  C_READS,
  C_RPOS,
  C_STATE,
  C_STOP,
  C_WAKEUPS,
  C_WORDS,
  C_WPOS,
  RING_WRAP,
  STATE_EXITED,
  type TunWorkerData,
} from './if_tun_worker.js';
import { NETISR_IP, NETISR_IPV6 } from './netisr.js';
import {
  AF_INET as LINUX_AF_INET,
  CLONE_NEWNET,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  errnoCode,
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN,
  ifreq,
  ifreqName,
  LINUX_EAGAIN,
  LINUX_EINVAL,
  LINUX_EIO,
  LINUX_ENOENT,
  type Libc,
  loadLibc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  openAdvice,
  SIOCGIFMTU,
  SIOCSIFMTU,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  setiffAdvice,
  tunError,
} from './tun_sys.js';
import { field } from '../kern/kern_sysctl.js';

const AF_INET = 2;
const AF_INET6 = 28;

/** Default clone device. */
export const TUN_PATH = '/dev/net/tun';
/** Default receive ring (bytes; a power of two). */
export const TUN_RXRING_DEFAULT = 4 * 1024 * 1024;
/** Default packets handed up per soft-task run. */
export const TUN_RXBATCH_DEFAULT = 256;
/** Largest packet a read can return: an IPv4/IPv6 datagram, or a frame of that plus 802.1Q. */
const TUN_READMAX = 65536 + 32;
/** How often the receive thread checks the device MTU while idle (ms). */
const TUN_MTU_CHECK_MS = 250;
/** Bound on waiting for the receive thread at shutdown (ms). */
const TUN_STOP_WAIT_MS = 2000;

export interface TunOptions {
  /** Linux interface name (at most 15 bytes; a '%d' template lets the kernel pick). Default 'tun%d'. */
  name?: string;
  /** 'tun' (IP datagrams, default) or 'tap' (Ethernet frames). */
  mode?: 'tun' | 'tap';
  /** The clone device (default /dev/net/tun). */
  path?: string;
  /** Create the device in this network namespace: a name under /run/netns, or a path. */
  netns?: string;
  /** Set the device MTU first (default: keep the device's). */
  mtu?: number;
  /** Receive ring size in bytes (rounded up to a power of two; default net.link.tun.rxring). */
  ringBytes?: number;
  /** Packets handed up per soft-task run (default net.link.tun.rxbatch). */
  rxBatch?: number;
  /** Link-layer address for TAP mode (default: random, locally administered). */
  lladdr?: Uint8Array;
}

/** Per-Vnet driver tunables (net.link.tun.*). */
class TunVars {
  rxring = TUN_RXRING_DEFAULT;
  rxbatch = TUN_RXBATCH_DEFAULT;
}

/**
 * Tunables of each Vnet, keyed by the instance (a WeakMap, so nothing is shared between
 * instances and nothing outlives one).
 */
const tunVars = new WeakMap<Vnet, TunVars>();

function tunvars(V: Vnet): TunVars {
  let tv = tunVars.get(V);
  if (tv !== undefined) return tv;
  tv = new TunVars();
  tunVars.set(V, tv);
  const t = tv;
  const s = V.sysctl;
  s.node('net.link', 'Link layers');
  s.node('net.link.tun', 'IP tunnel software network interface (Linux TUN/TAP device)');
  s.int('net.link.tun.rxring', field(t, 'rxring'), {
    descr: 'Receive ring size in bytes for new tun devices (a full ring drops: if_iqdrops)',
    min: 256 * 1024,
    max: 1 << 30,
  });
  s.int('net.link.tun.rxbatch', field(t, 'rxbatch'), { descr: 'Packets handed to the stack per receive soft-interrupt run', min: 1, max: 65536 });
  return tv;
}

function pow2AtLeast(n: number): number {
  let p = 256 * 1024;
  while (p < n) p *= 2;
  return p;
}

/** Driver state of one TUN/TAP interface (the softc). */
export class TunSoftc implements SoftTask {
  queued = false;
  readonly ifp: Ifnet;
  /** The Linux interface name. */
  readonly devname: string;
  readonly mode: 'tun' | 'tap';
  readonly netns: string | null;
  /** The TUN fd, -1 once closed. */
  fd: number;
  private efd: number;
  private ctlfd: number;
  private readonly libc: Libc;
  private readonly ctl: Int32Array;
  private readonly ring: Uint8Array;
  private readonly ring32: Uint32Array;
  private readonly mask: number;
  private rpos = 0;
  private drops = 0;
  private worker: Worker | null = null;
  private txbuf = Buffer.allocUnsafe(TUN_READMAX);
  private readonly efdBuf = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
  rxbatch: number;
  /** Packets handed up, and soft-task runs (for packets per wake-up). */
  rxRuns = 0;
  /** Error that stopped the receive thread (a Node-style code), if any. */
  rxError: string | null = null;
  private yielding = false;
  private readonly resume = (): void => {
    this.yielding = false;
    if (this.fd >= 0) this.ifp.if_vnet.clock.defer(this);
  };

  constructor(
    ifp: Ifnet,
    libc: Libc,
    fd: number,
    efd: number,
    ctlfd: number,
    devname: string,
    mode: 'tun' | 'tap',
    netns: string | null,
    ringBytes: number,
    rxbatch: number,
  ) {
    this.ifp = ifp;
    this.libc = libc;
    this.fd = fd;
    this.efd = efd;
    this.ctlfd = ctlfd;
    this.devname = devname;
    this.mode = mode;
    this.netns = netns;
    this.rxbatch = rxbatch;
    this.ctl = new Int32Array(new SharedArrayBuffer(C_WORDS * 4));
    const ringSab = new SharedArrayBuffer(ringBytes);
    this.ring = new Uint8Array(ringSab);
    this.ring32 = new Uint32Array(ringSab);
    this.mask = ringBytes - 1;
  }

  /** @internal start the receive thread. */
  start(mtu: number): void {
    Atomics.store(this.ctl, C_MTU, mtu);
    Atomics.store(this.ctl, C_ARMED, 1);
    const data: TunWorkerData = {
      bsdnetTun: true,
      fd: this.fd,
      efd: this.efd,
      ctlfd: this.ctlfd,
      ifname: this.devname,
      ctl: this.ctl.buffer as SharedArrayBuffer,
      ring: this.ring.buffer as SharedArrayBuffer,
      readMax: TUN_READMAX,
      mtuCheckMs: TUN_MTU_CHECK_MS,
    };
    const w = new Worker(new URL('./if_tun_worker.js', import.meta.url), { workerData: data, name: `tun ${this.devname}` });
    w.on('message', (msg: unknown) => this.onMessage(msg));
    w.on('error', (e: Error) => {
      this.rxError = (e as { code?: string }).code ?? 'EIO';
      this.ifp.if_link_state = LINK_STATE_DOWN;
    });
    this.worker = w;
  }

  private onMessage(msg: unknown): void {
    if (this.fd < 0) return;
    if (msg === 0) {
      this.ifp.if_vnet.clock.defer(this);
      return;
    }
    const o = msg as { mtu?: number; error?: number };
    if (typeof o.mtu === 'number' && o.mtu > 0) this.ifp.if_mtu = o.mtu;
    if (typeof o.error === 'number') {
      this.rxError = errnoCode(o.error);
      this.ifp.if_link_state = LINK_STATE_DOWN;
      this.ifp.if_vnet.clock.defer(this);
    }
  }

  /** Keep the process alive while attached (the default). */
  ref(): void {
    this.worker?.ref();
  }

  /** Let the process exit even though the interface is attached. */
  unref(): void {
    this.worker?.unref();
  }

  /** Receive soft interrupt: drain up to rxbatch packets from the ring into the stack. */
  runSoft(): void {
    const ifp = this.ifp;
    const ctl = this.ctl;
    if (this.fd < 0) return;
    const d = Atomics.load(ctl, C_DROPS);
    if (d !== this.drops) {
      ifp.if_data.iqdrops += (d - this.drops) >>> 0;
      this.drops = d;
    }
    const ring = this.ring;
    const ring32 = this.ring32;
    const cap = ring.length;
    const mask = this.mask;
    const V = ifp.if_vnet;
    const now = V.clock.now();
    let w = Atomics.load(ctl, C_WPOS) >>> 0;
    let r = this.rpos;
    let n = 0;
    this.rxRuns++;
    const limit = this.rxbatch;
    while (r !== w && n < limit) {
      const idx = r & mask;
      const len = ring32[idx >>> 2] as number;
      if (len === RING_WRAP) {
        r = (r + cap - idx) >>> 0;
        continue;
      }
      r = (r + 4 + ((len + 3) & ~3)) >>> 0;
      n++;
      this.input(V, ring, idx + 4, len, now);
      if (this.fd < 0) return; // detached by what the packet caused
      // Free the space as we go, so the receive thread can refill during a long batch.
      if ((n & 63) === 0) {
        Atomics.store(ctl, C_RPOS, r | 0);
        w = Atomics.load(ctl, C_WPOS) >>> 0;
      }
    }
    this.rpos = r;
    Atomics.store(ctl, C_RPOS, r | 0);
    if (r !== w) {
      // More is waiting, but let the event loop run first (timers, I/O, other stacks): a
      // re-defer from here would run in this same soft-work drain and, under a flood,
      // never return to the event loop.
      if (!this.yielding) {
        this.yielding = true;
        setImmediate(this.resume);
      }
      return;
    }
    // Empty: arm the doorbell, then look once more (the receive thread may have published
    // after our last look and before it saw the doorbell armed).
    Atomics.store(ctl, C_ARMED, 1);
    if (Atomics.load(ctl, C_WPOS) >>> 0 !== r && Atomics.compareExchange(ctl, C_ARMED, 1, 0) === 1) V.clock.defer(this);
  }

  private input(V: Vnet, ring: Uint8Array, off: number, len: number, now: number): void {
    const ifp = this.ifp;
    if (!(ifp.if_flags & IFF_UP)) {
      ifp.if_data.iqdrops++;
      return;
    }
    if (len === 0) {
      ifp.if_data.ierrors++;
      return;
    }
    const m = V.mbufs.devget(ring, off, len, ifp);
    if (m === null) {
      ifp.if_data.iqdrops++;
      return;
    }
    m.rcv_tstmp = now;
    if_inc_ipackets(ifp, len);
    ifp.if_input(ifp, m);
  }

  /** Write one packet to the device (the one copy out of the stack). Consumes `m`. */
  write(m: Mbuf): number {
    const ifp = this.ifp;
    if (this.fd < 0 || !(ifp.if_flags & IFF_UP)) {
      ifp.if_data.oerrors++;
      m_freem(m);
      return ENETDOWN;
    }
    const len = m.len;
    if (len > TUN_READMAX) {
      ifp.if_data.oerrors++;
      m_freem(m);
      return EMSGSIZE;
    }
    m_tobuf(m, this.txbuf);
    m_freem(m);
    const n = this.libc.write(this.fd, this.txbuf, len);
    if (n === len) {
      if_inc_opackets(ifp, len);
      return 0;
    }
    const e = n < 0 ? this.libc.errno() : LINUX_EIO;
    if (e === LINUX_EAGAIN) {
      ifp.if_data.oqdrops++;
      return ENOBUFS;
    }
    ifp.if_data.oerrors++;
    // EIO: the Linux side of the interface is down. EINVAL: the kernel refused the packet.
    return e === LINUX_EIO ? ENETDOWN : e === LINUX_EINVAL ? EINVAL : EIO;
  }

  /** Driver statistics beyond the if counters. */
  stats(): { ringBytes: number; ringDrops: number; wakeups: number; reads: number; softRuns: number; rxError: string | null; mtu: number } {
    return {
      ringBytes: this.ring.length,
      ringDrops: Atomics.load(this.ctl, C_DROPS) >>> 0,
      wakeups: Atomics.load(this.ctl, C_WAKEUPS) >>> 0,
      reads: Atomics.load(this.ctl, C_READS) >>> 0,
      softRuns: this.rxRuns,
      rxError: this.rxError ?? (Atomics.load(this.ctl, C_ERRNO) ? errnoCode(Atomics.load(this.ctl, C_ERRNO)) : null),
      mtu: Atomics.load(this.ctl, C_MTU),
    };
  }

  /** @internal stop the receive thread and close the device (if_detach). */
  close(): void {
    if (this.fd < 0) return;
    const ctl = this.ctl;
    Atomics.store(ctl, C_STOP, 1);
    this.libc.write(this.efd, this.efdBuf, 8);
    if (this.worker !== null) {
      // Wait (bounded) until the thread is out of its loop: only then may the fd number be
      // closed and reused without the thread reading from whatever gets it next.
      const deadline = Date.now() + TUN_STOP_WAIT_MS;
      for (;;) {
        const st = Atomics.load(ctl, C_STATE);
        const left = deadline - Date.now();
        if (st === STATE_EXITED || left <= 0) break;
        Atomics.wait(ctl, C_STATE, st, Math.min(left, 50));
      }
      const w = this.worker;
      this.worker = null;
      w.unref();
      w.terminate().catch(() => undefined);
    }
    this.libc.close(this.fd);
    this.fd = -1;
    if (this.efd >= 0) this.libc.close(this.efd);
    this.efd = -1;
    if (this.ctlfd >= 0) this.libc.close(this.ctlfd);
    this.ctlfd = -1;
  }
}

function tun_output(ifp: Ifnet, m: Mbuf, dst: unknown, _ro: unknown): number {
  const family = (dst as LinkDst | null)?.family;
  if (family !== AF_INET && family !== AF_INET6) {
    ifp.if_data.oerrors++;
    m_freem(m);
    return EAFNOSUPPORT;
  }
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_OUT);
  return (ifp.if_softc as TunSoftc).write(m);
}

/** TUN input (if_input): tap, then IPv4 or IPv6 by the version nibble. */
function tun_input(ifp: Ifnet, m: Mbuf): void {
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_IN);
  const v = (m.m_buf[m.m_data] as number) >> 4;
  if (v === 4) ifp.if_vnet.netisr.dispatch(NETISR_IP, m);
  else if (v === 6) ifp.if_vnet.netisr.dispatch(NETISR_IPV6, m);
  else {
    ifp.if_data.noproto++;
    m_freem(m);
  }
}

function tun_transmit(ifp: Ifnet, m: Mbuf): number {
  if (ifp.if_bpf.length > 0) bpf_mtap(ifp, m, BPF_D_OUT);
  return (ifp.if_softc as TunSoftc).write(m);
}

function randomLladdr(V: Vnet): Uint8Array {
  const a = V.rng.fill(new Uint8Array(6));
  a[0] = ((a[0] as number) & 0xfc) | 0x02; // locally administered, unicast
  return a;
}

/** Open the clone device and create/attach the Linux interface; in `netns` if given. */
function tun_open(
  libc: Libc,
  path: string,
  name: string,
  flags: number,
  netns: string | null,
  mtu: number | undefined,
): { fd: number; ctlfd: number; efd: number; devname: string; mtu: number } {
  let selfns = -1;
  if (netns !== null) {
    const nspath = netns.includes('/') ? netns : `/run/netns/${netns}`;
    const nsfd = libc.open(nspath, O_CLOEXEC);
    if (nsfd < 0) {
      const e = libc.errno();
      throw tunError(
        e,
        'open',
        e === LINUX_ENOENT
          ? `network namespace '${netns}' does not exist (create it with 'ip netns add ${netns}')`
          : `cannot open network namespace '${netns}'`,
        nspath,
      );
    }
    selfns = libc.open('/proc/thread-self/ns/net', O_CLOEXEC);
    // setns() switches only this thread, and only until we switch back below.
    if (selfns < 0 || libc.setns(nsfd, CLONE_NEWNET) < 0) {
      const e = libc.errno();
      libc.close(nsfd);
      if (selfns >= 0) libc.close(selfns);
      throw tunError(e, 'setns', `cannot enter network namespace '${netns}' (needs CAP_SYS_ADMIN: run as root)`, nspath);
    }
    libc.close(nsfd);
  }
  let fd = -1;
  let ctlfd = -1;
  try {
    fd = libc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const e = libc.errno();
      throw tunError(e, 'open', openAdvice(e, path), path);
    }
    const ifr = ifreq(name);
    ifr.writeUInt16LE(flags, 16);
    if (libc.ioctl(fd, 0x400454ca /* TUNSETIFF */, ifr) < 0) {
      const e = libc.errno();
      throw tunError(e, 'ioctl', setiffAdvice(e, name), path);
    }
    const devname = ifreqName(ifr);
    // A socket in the device's namespace answers MTU questions about it from any thread.
    ctlfd = libc.socket(LINUX_AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctlfd < 0) throw tunError(libc.errno(), 'socket', 'cannot create a socket to query the interface MTU');
    const q = ifreq(devname);
    if (mtu !== undefined) {
      q.writeInt32LE(mtu, 16);
      if (libc.ioctl(ctlfd, SIOCSIFMTU, q) < 0) throw tunError(libc.errno(), 'ioctl', `cannot set the MTU of '${devname}' to ${mtu}`);
    }
    if (libc.ioctl(ctlfd, SIOCGIFMTU, q) < 0) throw tunError(libc.errno(), 'ioctl', `cannot read the MTU of '${devname}'`);
    const devmtu = q.readInt32LE(16);
    const efd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) throw tunError(libc.errno(), 'eventfd', 'cannot create the eventfd that stops the receive thread');
    return { fd, ctlfd, efd, devname, mtu: devmtu };
  } catch (e) {
    if (fd >= 0) libc.close(fd);
    if (ctlfd >= 0) libc.close(ctlfd);
    throw e;
  } finally {
    if (selfns >= 0) {
      libc.setns(selfns, CLONE_NEWNET);
      libc.close(selfns);
    }
  }
}

/**
 * Create (or attach to) a Linux TUN/TAP device and attach it to `V` as an interface of the
 * same name, up and running. Throws a Node-style error (code ENOENT, EACCES, EPERM, EBUSY...)
 * whose message says what to do when the device cannot be opened.
 */
export function tun_create(V: Vnet, opts: TunOptions = {}): Ifnet {
  const tv = tunvars(V);
  const mode = opts.mode ?? 'tun';
  if (mode !== 'tun' && mode !== 'tap') throw Object.assign(new TypeError(`tun_create: bad mode '${String(mode)}'`), { code: 'ERR_INVALID_ARG_VALUE' });
  const name = opts.name ?? `${mode}%d`;
  if (Buffer.byteLength(name, 'latin1') >= 16 || name.length === 0 || /[\s/]/.test(name))
    throw Object.assign(new TypeError(`tun_create: bad interface name '${name}' (1 to 15 characters, no '/' or spaces)`), { code: 'ERR_INVALID_ARG_VALUE' });
  if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535))
    throw Object.assign(new RangeError(`tun_create: bad MTU ${opts.mtu}`), { code: 'ERR_OUT_OF_RANGE' });
  const libc = loadLibc();
  const flags = (mode === 'tap' ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
  const dev = tun_open(libc, opts.path ?? TUN_PATH, name, flags, opts.netns ?? null, opts.mtu);
  if (V.ifnet.has(dev.devname)) {
    libc.close(dev.fd);
    libc.close(dev.ctlfd);
    libc.close(dev.efd);
    throw Object.assign(new Error(`tun_create: the stack already has an interface named ${dev.devname}`), { code: 'EEXIST' });
  }
  const unit = Number(/(\d+)$/.exec(dev.devname)?.[1] ?? 0);
  const ifp = new Ifnet(V, mode, unit, dev.devname);
  const sc = new TunSoftc(
    ifp,
    libc,
    dev.fd,
    dev.efd,
    dev.ctlfd,
    dev.devname,
    mode,
    opts.netns ?? null,
    pow2AtLeast(opts.ringBytes ?? tv.rxring),
    opts.rxBatch ?? tv.rxbatch,
  );
  ifp.if_softc = sc;
  if (mode === 'tap') {
    ether_ifattach(ifp, opts.lladdr ?? randomLladdr(V));
    ifp.if_transmit = tun_transmit;
  } else {
    ifp.if_type = IFT_PROPVIRTUAL;
    ifp.if_hdrlen = 0;
    ifp.if_flags |= IFF_MULTICAST;
    ifp.if_output = tun_output;
    ifp.if_input = tun_input;
    ifp.if_transmit = (i, m) => tun_output(i, m, { family: (m.m_buf[m.m_data] as number) >> 4 === 6 ? AF_INET6 : AF_INET }, null);
    // Like Linux on a NOARP device: no duplicate address detection (nobody answers ND here).
    const inet6 = (V as { inet6?: Vnet['inet6'] }).inet6;
    if (inet6 !== undefined) inet6.ifextra(ifp).flags |= ND6_IFF_NO_DAD;
  }
  ifp.if_mtu = dev.mtu;
  ifp.if_hwassist = 0;
  ifp.if_flags |= IFF_UP | IFF_DRV_RUNNING;
  ifp.if_link_state = LINK_STATE_UP;
  ifp.if_description = `Linux ${mode.toUpperCase()} device ${dev.devname}${opts.netns ? ` (netns ${opts.netns})` : ''}`;
  ifp.if_detachfn = (i) => (i.if_softc as TunSoftc).close();
  V.ifnet.attach(ifp);
  if (mode === 'tun') {
    // A link-local address with a random interface identifier (as Linux gives a TUN device),
    // so link-scoped IPv6 (fe80::...%NAME) works across the device.
    const inet6 = (V as { inet6?: Vnet['inet6'] }).inet6;
    if (inet6 !== undefined) {
      const ll = new Uint8Array(16);
      ll[0] = 0xfe;
      ll[1] = 0x80;
      V.rng.fill(ll.subarray(8));
      ll[8] = (ll[8] as number) & 0xfd; // RFC 4291 App. A: "u" bit 0 (not a universal identifier)
      inet6.addAddress(ifp, ll, 64, IN6_IFF_NODAD);
    }
  }
  try {
    sc.start(dev.mtu);
  } catch (e) {
    V.ifnet.detach(ifp);
    throw e;
  }
  return ifp;
}

/** The TUN softc of an interface created by tun_create, or null. */
export function tun_softc(ifp: Ifnet): TunSoftc | null {
  return ifp.if_softc instanceof TunSoftc ? ifp.if_softc : null;
}

/** Detach and close a TUN interface (the Linux device goes away unless persistent). */
export function tun_destroy(ifp: Ifnet): void {
  ifp.if_vnet.ifnet.detach(ifp);
}
