/*
 * The one place where the packetdrill runner reaches into TCP beyond the socket API: the
 * connection list behind `sockstat`, and `tcpdrop`. Both go through sysctl, so the runner
 * never imports TCP internals:
 *
 *   net.inet.tcp.pcblist   struct node: an array of connections, each at least
 *                          { family: 4 | 6 | 'inet' | 'inet6', laddr, lport, faddr, fport,
 *                            state: FreeBSD tcpstates[] name ('SYN_RCVD', 'TIME_WAIT', ...) }
 *                          and optionally so_id (the owning Socket's so_id, absent when no
 *                          socket holds the connection: syncache entries, TIME_WAIT).
 *                          Syncache (SYN_RCVD) entries are included, as sockstat shows them.
 *   net.inet.tcp.drop      action: drop every connection in the TCPS_* state number
 *                          written (tcpdrop -s STATE), e.g. 10 for TIME_WAIT.
 *   net.inet.tcp.drop_timewait  action (older form): drop every TIME_WAIT connection.
 *
 * Anything missing is reported as an error naming the sysctl, so the runner can say exactly
 * what the stack does not provide yet.
 */

import type { SysctlJson } from '../kern/kern_sysctl.js';
import type { Vnet } from '../vnet.js';
import { TCP_STATE_NAMES } from './symbols.js';

export interface TcpConnection {
  family: 4 | 6;
  laddr: string;
  lport: number;
  faddr: string;
  fport: number;
  /** FreeBSD state name (tcpstates[]). */
  state: string;
  /** so_id of the socket holding the connection, or null if none (or unknown: -1). */
  soId: number | null;
}

export const PCBLIST_SYSCTL = 'net.inet.tcp.pcblist';
export const DROP_SYSCTL = 'net.inet.tcp.drop';
export const DROP_TIMEWAIT_SYSCTL = 'net.inet.tcp.drop_timewait';

function normFamily(f: SysctlJson | undefined, laddr: string): 4 | 6 {
  if (f === 6 || f === 28 || f === 'inet6' || f === 'tcp6' || f === 'AF_INET6') return 6;
  if (f === 4 || f === 2 || f === 'inet' || f === 'tcp4' || f === 'AF_INET') return 4;
  return laddr.includes(':') ? 6 : 4;
}

function normState(s: SysctlJson | undefined): string {
  if (typeof s === 'number') return TCP_STATE_NAMES[s] ?? String(s);
  if (typeof s === 'string') return s.toUpperCase();
  return '?';
}

/** The stack's TCP connections (sockstat). Throws an Error naming what is missing. */
export function tcpConnections(V: Vnet): TcpConnection[] {
  let v: unknown;
  try {
    v = V.sysctl.get(PCBLIST_SYSCTL);
  } catch {
    throw new Error(`the stack has no sysctl ${PCBLIST_SYSCTL} (needed for sockstat)`);
  }
  const list = Array.isArray(v)
    ? v
    : v !== null && typeof v === 'object' && Array.isArray((v as { list?: unknown }).list)
      ? (v as { list: unknown[] }).list
      : null;
  if (list === null) throw new Error(`sysctl ${PCBLIST_SYSCTL} is not a list of connections`);
  const out: TcpConnection[] = [];
  for (const e of list) {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) continue;
    const r = e as { [k: string]: SysctlJson };
    const laddr = String(r.laddr ?? r.local ?? '*');
    const soRaw = r.so_id ?? r.soId ?? r.sockid;
    out.push({
      family: normFamily(r.family, laddr),
      laddr,
      lport: Number(r.lport ?? 0),
      faddr: String(r.faddr ?? r.foreign ?? '*'),
      fport: Number(r.fport ?? 0),
      state: normState(r.state),
      soId: typeof soRaw === 'number' ? soRaw : soRaw === null ? null : -1,
    });
  }
  return out;
}

/** Drop every connection in `state` (tcpdrop -s STATE). Throws naming what is missing. */
export function tcpDropState(V: Vnet, state: string): void {
  const n = TCP_STATE_NAMES.indexOf(state.toUpperCase());
  if (n < 0) throw new Error(`tcpdrop: unknown TCP state '${state}'`);
  if (V.sysctl.find(DROP_SYSCTL) !== undefined) {
    V.sysctl.set(DROP_SYSCTL, n);
    return;
  }
  if (n === 10 && V.sysctl.find(DROP_TIMEWAIT_SYSCTL) !== undefined) {
    V.sysctl.set(DROP_TIMEWAIT_SYSCTL, 1);
    return;
  }
  throw new Error(`the stack has no sysctl ${DROP_SYSCTL} (needed for tcpdrop -s ${state})`);
}
