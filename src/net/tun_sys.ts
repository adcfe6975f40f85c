/*
 * Linux system calls for the TUN driver, through koffi (a prebuilt FFI: no compiler needed).
 *
 * This is the one place where C signatures, constants and struct layouts are written by
 * hand: open/close/read/write/ioctl/poll/eventfd/socket/setns from libc, `struct ifreq`
 * (name[16] then a union at offset 16: short ifr_flags, int ifr_mtu), `struct pollfd`
 * (int fd, short events, short revents). The values are those of the Linux generic ABI
 * (x86-64, arm64, riscv64 share them).
 *
 * koffi is loaded lazily, on the first call: the rest of bsdnet runs without it. Failures
 * return -errno (never throw), so hot loops test a number; tunError() turns an errno into a
 * Node-style Error with a `code` and a message that says what to do about it.
 */

import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

// fcntl.h / linux/if_tun.h / linux/sockios.h / sched.h / poll.h / sys/eventfd.h
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const TUNSETIFF = 0x400454ca;
export const TUNGETIFF = 0x800454d2;
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const SIOCGIFFLAGS = 0x8913;
export const IFNAMSIZ = 16;
export const IFREQ_SIZE = 40;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const POLLIN = 0x1;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;

// Linux errno values used by the driver (asm-generic/errno-base.h).
export const LINUX_EPERM = 1;
export const LINUX_ENOENT = 2;
export const LINUX_EINTR = 4;
export const LINUX_EIO = 5;
export const LINUX_ENXIO = 6;
export const LINUX_EBADF = 9;
export const LINUX_EAGAIN = 11;
export const LINUX_EACCES = 13;
export const LINUX_EBUSY = 16;
export const LINUX_ENODEV = 19;
export const LINUX_EINVAL = 22;

interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => unknown };
  errno(): number;
}

/** The libc functions the driver calls; each returns the C result (-1 on error, see errno()). */
export interface Libc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  read(fd: number, buf: Uint8Array, len: number): number;
  write(fd: number, buf: Uint8Array, len: number): number;
  /** ioctl(fd, req, void *arg). */
  ioctl(fd: number, req: number, arg: Uint8Array): number;
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  socket(domain: number, type: number, proto: number): number;
  setns(fd: number, nstype: number): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

/**
 * One libc binding per thread (koffi handles are per thread). Not per Vnet: it holds no
 * stack state, only function pointers, so sharing it between instances shares nothing.
 */
let libc: Libc | null = null;

/** Load koffi and bind libc; throws a Node-style error if koffi is missing. */
export function loadLibc(): Libc {
  if (libc !== null) return libc;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw Object.assign(new Error(`the TUN driver needs the 'koffi' package (npm install koffi): ${(e as Error).message}`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
  }
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, ...)');
  const close = lib.func('int close(int fd)');
  const read = lib.func('long read(int fd, void *buf, unsigned long count)');
  const write = lib.func('long write(int fd, const void *buf, unsigned long count)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, ...)');
  const poll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const socket = lib.func('int socket(int domain, int type, int protocol)');
  const setns = lib.func('int setns(int fd, int nstype)');
  libc = {
    open: (path, flags) => open(path, flags) as number,
    close: (fd) => close(fd) as number,
    read: (fd, buf, len) => read(fd, buf, len) as number,
    write: (fd, buf, len) => write(fd, buf, len) as number,
    ioctl: (fd, req, arg) => ioctl(fd, req, 'void *', arg) as number,
    poll: (fds, nfds, t) => poll(fds, nfds, t) as number,
    eventfd: (v, f) => eventfd(v, f) as number,
    socket: (d, t, p) => socket(d, t, p) as number,
    setns: (fd, t) => setns(fd, t) as number,
    errno: () => koffi.errno(),
  };
  return libc;
}

/** A zeroed struct ifreq with ifr_name set. */
export function ifreq(name: string): Buffer {
  const ifr = Buffer.alloc(IFREQ_SIZE);
  ifr.write(name, 0, IFNAMSIZ - 1, 'latin1');
  return ifr;
}

/** ifr_name of a struct ifreq. */
export function ifreqName(ifr: Buffer): string {
  const end = ifr.indexOf(0);
  return ifr.toString('latin1', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

/** The symbolic name of a Linux errno ('ENOENT'...), as Node reports it. */
export function errnoCode(errno: number): string {
  for (const [k, v] of Object.entries(osConstants.errno)) if (v === errno) return k;
  return `E${errno}`;
}

export interface TunSysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** A Node-style error (code, errno < 0, syscall, path) with a message that says what to do. */
export function tunError(errno: number, syscall: string, message: string, path?: string): TunSysError {
  const code = errnoCode(errno);
  const err = new Error(`${syscall}${path !== undefined ? ` ${path}` : ''}: ${code}: ${message}`) as TunSysError;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** Advice for a failed open() of the clone device. */
export function openAdvice(errno: number, path: string): string {
  switch (errno) {
    case LINUX_ENOENT:
      return `${path} does not exist: this kernel has no TUN driver loaded (modprobe tun), or a container was started without the device (docker run --device /dev/net/tun --cap-add NET_ADMIN)`;
    case LINUX_EACCES:
    case LINUX_EPERM:
      return `no permission to open ${path}: creating a TUN device needs root (or CAP_NET_ADMIN) and read/write access to ${path}; run as root, or make the device node accessible (chmod 0666 ${path}) and pre-create the interface with 'ip tuntap add dev NAME mode tun user $USER'`;
    case LINUX_ENXIO:
    case LINUX_ENODEV:
      return `${path} exists but the TUN driver is not loaded (modprobe tun)`;
    default:
      return `cannot open ${path}`;
  }
}

/** Advice for a failed TUNSETIFF. */
export function setiffAdvice(errno: number, name: string): string {
  switch (errno) {
    case LINUX_EPERM:
    case LINUX_EACCES:
      return `not permitted to create or attach TUN interface '${name}': this needs CAP_NET_ADMIN (run as root), or a persistent device owned by this user ('ip tuntap add dev ${name} mode tun user $USER')`;
    case LINUX_EBUSY:
      return `interface '${name}' is busy: another process has it open, or it exists and is not a TUN/TAP device of this mode`;
    case LINUX_EINVAL:
      return `'${name}' is not a valid TUN interface name, or an existing '${name}' is not a TUN device of this mode`;
    default:
      return `TUNSETIFF '${name}' failed`;
  }
}
