/*
 * errno values, with FreeBSD's numbers (sys/sys/errno.h).
 *
 * Inside the stack, functions report failure with these numbers (0 = success), as BSD does.
 * At the API edge they become Node-style errors whose `code` is the symbolic name (see
 * errnoName / api errors); packetdrill scripts compare against the same names.
 */

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const EBADF = 9;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOSPC = 28;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
export const EAGAIN = 35;
export const EWOULDBLOCK = EAGAIN;
export const EINPROGRESS = 36;
export const EALREADY = 37;
export const ENOTSOCK = 38;
export const EDESTADDRREQ = 39;
export const EMSGSIZE = 40;
export const EPROTOTYPE = 41;
export const ENOPROTOOPT = 42;
export const EPROTONOSUPPORT = 43;
export const ESOCKTNOSUPPORT = 44;
export const EOPNOTSUPP = 45;
export const ENOTSUP = EOPNOTSUPP;
export const EPFNOSUPPORT = 46;
export const EAFNOSUPPORT = 47;
export const EADDRINUSE = 48;
export const EADDRNOTAVAIL = 49;
export const ENETDOWN = 50;
export const ENETUNREACH = 51;
export const ENETRESET = 52;
export const ECONNABORTED = 53;
export const ECONNRESET = 54;
export const ENOBUFS = 55;
export const EISCONN = 56;
export const ENOTCONN = 57;
export const ESHUTDOWN = 58;
export const ETOOMANYREFS = 59;
export const ETIMEDOUT = 60;
export const ECONNREFUSED = 61;
export const ELOOP = 62;
export const ENAMETOOLONG = 63;
export const EHOSTDOWN = 64;
export const EHOSTUNREACH = 65;
export const ENOTEMPTY = 66;
export const ENOSYS = 78;
export const ENOATTR = 87;
export const EOVERFLOW = 84;
export const ECANCELED = 85;
export const EILSEQ = 86;
export const ENOTCAPABLE = 93;

/** Symbolic names by number. EAGAIN/EWOULDBLOCK and EOPNOTSUPP/ENOTSUP share numbers. */
const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [ENXIO]: 'ENXIO',
  [E2BIG]: 'E2BIG',
  [EBADF]: 'EBADF',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [ENOTDIR]: 'ENOTDIR',
  [EISDIR]: 'EISDIR',
  [EINVAL]: 'EINVAL',
  [ENFILE]: 'ENFILE',
  [EMFILE]: 'EMFILE',
  [ENOSPC]: 'ENOSPC',
  [EPIPE]: 'EPIPE',
  [EDOM]: 'EDOM',
  [ERANGE]: 'ERANGE',
  [EAGAIN]: 'EAGAIN',
  [EINPROGRESS]: 'EINPROGRESS',
  [EALREADY]: 'EALREADY',
  [ENOTSOCK]: 'ENOTSOCK',
  [EDESTADDRREQ]: 'EDESTADDRREQ',
  [EMSGSIZE]: 'EMSGSIZE',
  [EPROTOTYPE]: 'EPROTOTYPE',
  [ENOPROTOOPT]: 'ENOPROTOOPT',
  [EPROTONOSUPPORT]: 'EPROTONOSUPPORT',
  [ESOCKTNOSUPPORT]: 'ESOCKTNOSUPPORT',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [EPFNOSUPPORT]: 'EPFNOSUPPORT',
  [EAFNOSUPPORT]: 'EAFNOSUPPORT',
  [EADDRINUSE]: 'EADDRINUSE',
  [EADDRNOTAVAIL]: 'EADDRNOTAVAIL',
  [ENETDOWN]: 'ENETDOWN',
  [ENETUNREACH]: 'ENETUNREACH',
  [ENETRESET]: 'ENETRESET',
  [ECONNABORTED]: 'ECONNABORTED',
  [ECONNRESET]: 'ECONNRESET',
  [ENOBUFS]: 'ENOBUFS',
  [EISCONN]: 'EISCONN',
  [ENOTCONN]: 'ENOTCONN',
  [ESHUTDOWN]: 'ESHUTDOWN',
  [ETOOMANYREFS]: 'ETOOMANYREFS',
  [ETIMEDOUT]: 'ETIMEDOUT',
  [ECONNREFUSED]: 'ECONNREFUSED',
  [ELOOP]: 'ELOOP',
  [ENAMETOOLONG]: 'ENAMETOOLONG',
  [EHOSTDOWN]: 'EHOSTDOWN',
  [EHOSTUNREACH]: 'EHOSTUNREACH',
  [ENOTEMPTY]: 'ENOTEMPTY',
  [ENOSYS]: 'ENOSYS',
  [EOVERFLOW]: 'EOVERFLOW',
  [ECANCELED]: 'ECANCELED',
  [EILSEQ]: 'EILSEQ',
  [ENOATTR]: 'ENOATTR',
  [ENOTCAPABLE]: 'ENOTCAPABLE',
};

/** Aliases accepted when mapping a name back to a number. */
const ALIASES: Record<string, number> = { EWOULDBLOCK, ENOTSUP };

export function errnoName(e: number): string {
  return NAMES[e] ?? `E${e}`;
}

export function errnoByName(name: string): number | undefined {
  if (ALIASES[name] !== undefined) return ALIASES[name];
  for (const [k, v] of Object.entries(NAMES)) if (v === name) return Number(k);
  return undefined;
}

const MESSAGES: Record<number, string> = {
  [EPERM]: 'Operation not permitted',
  [ENOENT]: 'No such file or directory',
  [EBADF]: 'Bad file descriptor',
  [ENOMEM]: 'Cannot allocate memory',
  [EACCES]: 'Permission denied',
  [EINVAL]: 'Invalid argument',
  [EPIPE]: 'Broken pipe',
  [EAGAIN]: 'Resource temporarily unavailable',
  [EINPROGRESS]: 'Operation now in progress',
  [EALREADY]: 'Operation already in progress',
  [ENOTSOCK]: 'Socket operation on non-socket',
  [EDESTADDRREQ]: 'Destination address required',
  [EMSGSIZE]: 'Message too long',
  [ENOPROTOOPT]: 'Protocol not available',
  [EPROTONOSUPPORT]: 'Protocol not supported',
  [EOPNOTSUPP]: 'Operation not supported',
  [EAFNOSUPPORT]: 'Address family not supported by protocol family',
  [EADDRINUSE]: 'Address already in use',
  [EADDRNOTAVAIL]: "Can't assign requested address",
  [ENETDOWN]: 'Network is down',
  [ENETUNREACH]: 'Network is unreachable',
  [ECONNABORTED]: 'Software caused connection abort',
  [ECONNRESET]: 'Connection reset by peer',
  [ENOBUFS]: 'No buffer space available',
  [EISCONN]: 'Socket is already connected',
  [ENOTCONN]: 'Socket is not connected',
  [ESHUTDOWN]: "Can't send after socket shutdown",
  [ETIMEDOUT]: 'Operation timed out',
  [ECONNREFUSED]: 'Connection refused',
  [EHOSTDOWN]: 'Host is down',
  [EHOSTUNREACH]: 'No route to host',
};

export function strerror(e: number): string {
  return MESSAGES[e] ?? errnoName(e);
}
