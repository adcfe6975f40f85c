/*
 * `bsdnet trace plot`: one connection of a black-box log dump (tcp_log_buf.ts TcpLogDump,
 * written by `bsdnet trace dump` or `bsdnet trace -w`) drawn over time with vega-lite,
 * rendered to SVG on the server side by vega's View.toSVG():
 *   - sequence space: bytes sent (relative to the ISS), retransmissions, and the ACKs received;
 *   - congestion window and slow-start threshold;
 *   - smoothed RTT (and RTT variance).
 * vega and vega-lite are loaded on demand: only this command needs them, never the stack.
 */

import type { TcpLogDump, TcpLogEvent, TcpLogSessionInfo } from '../netinet/tcp_log_buf.js';

type Session = TcpLogSessionInfo & { log: TcpLogEvent[] };

const U32 = 2 ** 32;
/** TCP_MAXWIN << TCP_MAX_WINSHIFT: ssthresh (and cwnd) values at or above mean "no limit yet". */
export const TCP_INFINITE_WINDOW = 65535 * 16384;
const rel = (v: number, base: number): number => (((v - base) % U32) + U32) % U32;

/** Parse and check a dump (throws with a clear message). */
export function parseDump(text: string, what: string): TcpLogDump {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: not JSON (${(e as Error).message})`);
  }
  const d = v as Partial<TcpLogDump>;
  if (d === null || typeof d !== 'object' || d.format !== 'bsdnet-bblog' || !Array.isArray(d.sessions)) {
    throw new Error(`${what}: not a bsdnet black-box log (expected "format": "bsdnet-bblog")`);
  }
  return d as TcpLogDump;
}

/** Bytes a session sent (snd_max - iss at its last event). */
export function bytesSent(s: Session): number {
  let best = 0;
  for (const e of s.log) if (e.snd_max !== 0) best = Math.max(best, rel(e.snd_max, s.iss));
  return best;
}

/** The session to plot: `id` if given, else the one that sent the most. */
export function pickSession(d: TcpLogDump, id?: number): Session {
  if (id !== undefined) {
    const s = d.sessions.find((x) => x.id === id);
    if (s === undefined) throw new Error(`no session ${id} in the log (sessions: ${d.sessions.map((x) => x.id).join(', ') || 'none'})`);
    return s;
  }
  if (d.sessions.length === 0) throw new Error('the log holds no sessions');
  let best = d.sessions[0] as Session;
  for (const s of d.sessions) if (bytesSent(s) > bytesSent(best)) best = s;
  return best;
}

interface Row {
  t: number;
  series: string;
  value: number;
}

/** The plotted rows of a session: [sequence rows, window rows, rtt rows]. */
export function plotRows(s: Session): [Row[], Row[], Row[]] {
  const t0 = s.log.length > 0 ? (s.log[0] as TcpLogEvent).time_us : s.start_us;
  const seq: Row[] = [];
  const win: Row[] = [];
  const rtt: Row[] = [];
  const KB = 1024;
  for (const e of s.log) {
    const t = (e.time_us - t0) / 1e6;
    if ((e.event === 'send' || e.event === 'retransmit') && e.len > 0) {
      seq.push({ t, series: e.event === 'send' ? 'sent' : 'retransmitted', value: rel(e.seq, s.iss) / KB });
    }
    if (e.event === 'receive' && e.ack !== undefined && e.flags.includes('.') && e.state !== 'SYN_SENT') {
      seq.push({ t, series: 'acked', value: rel(e.ack, s.iss) / KB });
    }
    if (e.state === 'ESTABLISHED' || e.state === 'CLOSE_WAIT' || e.state === 'FIN_WAIT_1') {
      if (e.snd_cwnd < TCP_INFINITE_WINDOW) win.push({ t, series: 'cwnd', value: e.snd_cwnd / KB });
      if (e.snd_ssthresh < TCP_INFINITE_WINDOW) win.push({ t, series: 'ssthresh', value: e.snd_ssthresh / KB });
      if (e.t_srtt_us > 0) {
        rtt.push({ t, series: 'srtt', value: e.t_srtt_us / 1000 });
        rtt.push({ t, series: 'rttvar', value: e.t_rttvar_us / 1000 });
      }
    }
  }
  // Send windows and RTT change rarely: keep one row per change so big logs plot quickly.
  const dedupe = (rows: Row[]): Row[] => {
    const last = new Map<string, number>();
    return rows.filter((r, i) => {
      const prev = last.get(r.series);
      last.set(r.series, r.value);
      return prev !== r.value || i === rows.length - 1;
    });
  };
  // Retransmissions last, so they are drawn over the segments sent at the same place.
  seq.sort((a, b) => Number(a.series === 'retransmitted') - Number(b.series === 'retransmitted'));
  return [seq, dedupe(win), dedupe(rtt)];
}

/** Render a session to SVG text. */
export async function plotSvg(d: TcpLogDump, opts: { id?: number; width?: number } = {}): Promise<{ svg: string; session: Session }> {
  const s = pickSession(d, opts.id);
  const [seq, win, rtt] = plotRows(s);
  if (seq.length === 0 && win.length === 0) throw new Error(`session ${s.id} has no data segments to plot`);
  const width = opts.width ?? 720;
  const x = { field: 't', type: 'quantitative', title: 'time (s)' };
  const color = (domain: string[], range: string[]) => ({ field: 'series', type: 'nominal', title: null, scale: { domain, range } });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `TCP ${s.laddr}.${s.lport} → ${s.faddr}.${s.fport}`,
      subtitle: `bsdnet black-box log of ${d.stack}, session ${s.id}: ${s.log.length} events, ${(bytesSent(s) / 1024).toFixed(0)} KB sent`,
    },
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    resolve: { scale: { color: 'independent' } },
    vconcat: [
      {
        width,
        height: 220,
        title: 'sequence space',
        data: { values: seq },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'KB (relative to ISS)' },
          color: color(['sent', 'retransmitted', 'acked'], ['#4c78a8', '#e45756', '#54a24b']),
        },
        layer: [
          { mark: { type: 'point', filled: true, size: 8 }, transform: [{ filter: "datum.series !== 'retransmitted'" }] },
          { mark: { type: 'point', filled: true, size: 70, shape: 'diamond' }, transform: [{ filter: "datum.series === 'retransmitted'" }] },
        ],
      },
      {
        width,
        height: 160,
        title: 'congestion window',
        data: { values: win },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y: { field: 'value', type: 'quantitative', title: 'KB' }, color: color(['cwnd', 'ssthresh'], ['#f58518', '#72b7b2']) },
      },
      {
        width,
        height: 140,
        title: 'round-trip time',
        data: { values: rtt },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y: { field: 'value', type: 'quantitative', title: 'ms' }, color: color(['srtt', 'rttvar'], ['#b279a2', '#9d755d']) },
      },
    ],
  };
  const vl = await import('vega-lite');
  const vega = await import('vega');
  // biome-ignore lint/suspicious/noExplicitAny: vega-lite's TopLevelSpec is a deep union; the spec above is checked by compile().
  const compiled = vl.compile(spec as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return { svg, session: s };
}
