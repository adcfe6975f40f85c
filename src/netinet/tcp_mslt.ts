/*
 * Maximum Segment Lifetime Truncation (MSLT), after NetBSD (tcp_subr.c / tcp_input.c
 * tcp_established, contributed by Coyote Point Systems with VTW).
 *
 * Each connection gets an MSL class from how near its peer is, decided once when it reaches
 * ESTABLISHED; TIME_WAIT then lasts 2 × that class's MSL:
 *   - loopback: the local address is a loopback address (127/8, ::1), the local and foreign
 *     addresses are equal, or the connection runs over a loopback interface;
 *   - local: the foreign address is on a directly attached subnet (in_localaddr /
 *     in6_localaddr; IPv6 link-local peers are on-link), or net.inet.tcp.local_by_rtt is set;
 *   - remote: everything else (reached through a gateway).
 *
 * Sysctls (NetBSD names, values in PR_SLOWHZ ticks of 500 ms, NetBSD defaults):
 *   net.inet.tcp.mslt.enable            1
 *   net.inet.tcp.mslt.loopback          2   (MSL 1 s  → TIME_WAIT 2 s)
 *   net.inet.tcp.mslt.local            10   (MSL 5 s  → TIME_WAIT 10 s)
 *   net.inet.tcp.mslt.remote           60   (MSL 30 s → TIME_WAIT 60 s)
 *   net.inet.tcp.mslt.remote_threshold  6   (TCPTV_SRTTDFLT: with local_by_rtt, an RTT above
 *                                            this promotes a "local" connection to remote)
 *   net.inet.tcp.local_by_rtt           0
 * A class value of 0 falls back to TCPTV_MSL (remote), TCPTV_MSL/2 (local), TCPTV_MSL/4
 * (loopback), as NetBSD does. Changing a value affects new connections only (the class and
 * MSL are taken at ESTABLISHED / at the TIME_WAIT insertion).
 *
 * Class numbers are NetBSD's VTW class numbers: 0 classless (MSLT off), 1 remote, 2 local,
 * 3 loopback.
 */

import type { Ifnet } from '../net/if.js';
import { IFF_LOOPBACK } from '../net/if.js';
import type { Vnet } from '../vnet.js';
import { IN6_IS_ADDR_LINKLOCAL, IN6_IS_ADDR_LOOPBACK, IN_LOOPBACK, in6_equal } from './in.js';
import { field } from '../kern/kern_sysctl.js';

/** NetBSD's slow-timer rate: MSL sysctls count ticks of 500 ms. */
export const PR_SLOWHZ = 2;
/** TCPTV_MSL: 30 s in slow ticks. */
export const TCPTV_MSL = 30 * PR_SLOWHZ;
/** TCPTV_SRTTDFLT: 3 s in slow ticks (the default remote_threshold). */
export const TCPTV_SRTTDFLT = 3 * PR_SLOWHZ;
/** Nanoseconds per slow tick. */
export const SLOWTICK_NS = 1_000_000_000 / PR_SLOWHZ;

export const MSLT_CLASSLESS = 0;
export const MSLT_REMOTE = 1;
export const MSLT_LOCAL = 2;
export const MSLT_LOOPBACK = 3;

export const MSLT_CLASS_NAMES = ['classless', 'remote', 'local', 'loopback'] as const;

/** Upper bound for the class sysctls (ticks): an hour of MSL. */
const MSLT_MAX_TICKS = 3600 * PR_SLOWHZ;

/** Per-Vnet MSLT tunables (NetBSD tcp_msl_enable, tcp_msl_loop, tcp_msl_local, tcp_msl_remote...). */
export class Mslt {
  private readonly V: Vnet;
  /** net.inet.tcp.mslt.enable */
  enable = true;
  /** net.inet.tcp.mslt.loopback (ticks) */
  loopback = PR_SLOWHZ;
  /** net.inet.tcp.mslt.local (ticks) */
  local = 5 * PR_SLOWHZ;
  /** net.inet.tcp.mslt.remote (ticks) */
  remote = TCPTV_MSL;
  /** net.inet.tcp.mslt.remote_threshold (ticks of smoothed RTT) */
  remote_threshold = TCPTV_SRTTDFLT;
  /** net.inet.tcp.local_by_rtt */
  local_by_rtt = false;
  /** Called after mslt.enable changes (VTW re-lays out its class rings). */
  onEnableChange: ((on: boolean) => void) | null = null;

  constructor(V: Vnet) {
    this.V = V;
    const s = V.sysctl;
    s.node('net.inet.tcp.mslt', 'MSL Truncation');
    s.bool('net.inet.tcp.mslt.enable', field(this, 'enable'), { descr: 'Enable TIME_WAIT truncation', onChange: (v) => this.onEnableChange?.(v) });
    const tick = (name: 'loopback' | 'local' | 'remote' | 'remote_threshold', descr: string) =>
      s.int(
        `net.inet.tcp.mslt.${name}`,
        {
          get: () => this[name],
          set: (v) => {
            this[name] = v;
          },
        },
        { descr, min: 0, max: MSLT_MAX_TICKS },
      );
    tick('loopback', 'MSL value to use for loopback connections');
    tick('local', 'MSL value to use for local connections');
    tick('remote', 'MSL value to use for remote connections');
    tick('remote_threshold', 'RTT estimate value to promote local to remote');
    s.bool('net.inet.tcp.local_by_rtt', field(this, 'local_by_rtt'), { descr: 'Use RTT estimator for decision on local vs remote' });
  }

  /** MSL of a class in slow ticks (500 ms), with NetBSD's fallbacks for 0 values. */
  mslTicks(cls: number): number {
    if (!this.enable) return TCPTV_MSL;
    switch (cls) {
      case MSLT_LOOPBACK:
        return this.loopback || TCPTV_MSL >> 2;
      case MSLT_LOCAL:
        return this.local || TCPTV_MSL >> 1;
      default:
        return this.remote || TCPTV_MSL;
    }
  }

  /** MSL of a class in nanoseconds (msl_for). TIME_WAIT lasts twice this. */
  mslNs(cls: number): number {
    return this.mslTicks(cls) * SLOWTICK_NS;
  }

  /**
   * MSL class of an IPv4 connection (tcp_established). `ifp` is the interface the connection
   * uses, if known; a loopback interface makes it a loopback connection.
   */
  classify4(laddr: number, faddr: number, ifp: Ifnet | null = null): number {
    if (!this.enable) return MSLT_CLASSLESS;
    laddr >>>= 0;
    faddr >>>= 0;
    if (IN_LOOPBACK(laddr) || laddr === faddr || (ifp !== null && ifp.if_flags & IFF_LOOPBACK)) return MSLT_LOOPBACK;
    if (this.local_by_rtt) return MSLT_LOCAL;
    if (this.V.inet.ifaWithNet(faddr) !== undefined) return MSLT_LOCAL;
    return MSLT_REMOTE;
  }

  /** MSL class of an IPv6 connection (tcp_established, in6_localaddr). */
  classify6(laddr: Uint8Array, faddr: Uint8Array, ifp: Ifnet | null = null, laoff = 0, faoff = 0): number {
    if (!this.enable) return MSLT_CLASSLESS;
    if (IN6_IS_ADDR_LOOPBACK(laddr, laoff) || in6_equal(laddr, laoff, faddr, faoff) || (ifp !== null && ifp.if_flags & IFF_LOOPBACK)) return MSLT_LOOPBACK;
    if (this.local_by_rtt) return MSLT_LOCAL;
    if (IN6_IS_ADDR_LINKLOCAL(faddr, faoff) || this.V.inet6.ifaWithNet(faddr, faoff) !== undefined) return MSLT_LOCAL;
    return MSLT_REMOTE;
  }

  /**
   * With local_by_rtt, a local connection whose smoothed RTT (in slow ticks) exceeds
   * remote_threshold is promoted to remote (NetBSD tcp_xmit_timer). Returns the new class.
   */
  rttPromote(cls: number, srttTicks: number): number {
    if (this.enable && this.local_by_rtt && cls === MSLT_LOCAL && srttTicks > this.remote_threshold) return MSLT_REMOTE;
    return cls;
  }
}

/** mslt_class(V, ...) for callers holding the Mslt state: the class of a 4-tuple's peer. */
export function mslt_class(m: Mslt, family4: boolean, laddr: number | Uint8Array, faddr: number | Uint8Array, ifp: Ifnet | null = null): number {
  return family4 ? m.classify4(laddr as number, faddr as number, ifp) : m.classify6(laddr as Uint8Array, faddr as Uint8Array, ifp);
}
