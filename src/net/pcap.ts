/*
 * pcap files (the classic libpcap format that tcpdump, tshark and Wireshark read).
 *
 * A PcapWriter formats records into a buffer and hands full chunks to a sink (a file, a
 * socket, an array in a test). Timestamps are nanoseconds since the Unix epoch; files use
 * the nanosecond-resolution magic (0xa1b23c4d), which every current reader understands.
 */

import { closeSync, openSync, writeSync } from 'node:fs';

export const LINKTYPE_NULL = 0; // BSD loopback: 4-byte host-order address family, then IP
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // raw IPv4/IPv6, no link header

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US = 0xa1b2c3d4;

export type PcapSink = (chunk: Uint8Array) => void;

export class PcapWriter {
  readonly linktype: number;
  readonly snaplen: number;
  private buf: Uint8Array;
  private dv: DataView;
  private off = 0;
  private readonly sink: PcapSink;
  packets = 0;
  private closed = false;

  constructor(sink: PcapSink, linktype: number, snaplen = 262144, bufSize = 1 << 16) {
    this.sink = sink;
    this.linktype = linktype;
    this.snaplen = snaplen;
    this.buf = new Uint8Array(Math.max(bufSize, 24));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.dv.setUint32(0, PCAP_MAGIC_NS, true);
    this.dv.setUint16(4, 2, true);
    this.dv.setUint16(6, 4, true);
    this.dv.setInt32(8, 0, true);
    this.dv.setUint32(12, 0, true);
    this.dv.setUint32(16, snaplen, true);
    this.dv.setUint32(20, linktype, true);
    this.off = 24;
  }

  /** Open a file sink; close() closes the file. */
  static toFile(path: string, linktype: number, snaplen?: number): PcapWriter {
    const fd = openSync(path, 'w');
    const w = new PcapWriter(
      (c) => {
        writeSync(fd, c);
      },
      linktype,
      snaplen,
    );
    w.onClose = () => closeSync(fd);
    return w;
  }

  onClose: (() => void) | null = null;

  /** Append one packet: `len` bytes of `data` from `off`, captured at wall time `tsNs`. */
  write(tsNs: number, data: Uint8Array, off: number, len: number, origLen = len): void {
    if (this.closed) return;
    const incl = Math.min(len, this.snaplen);
    const need = 16 + incl;
    if (this.off + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) {
        this.buf = new Uint8Array(need);
        this.dv = new DataView(this.buf.buffer);
      }
    }
    const sec = Math.floor(tsNs / 1e9);
    const nsec = tsNs - sec * 1e9;
    this.dv.setUint32(this.off, sec >>> 0, true);
    this.dv.setUint32(this.off + 4, Math.floor(nsec), true);
    this.dv.setUint32(this.off + 8, incl, true);
    this.dv.setUint32(this.off + 12, origLen, true);
    this.buf.set(data.subarray(off, off + incl), this.off + 16);
    this.off += need;
    this.packets++;
  }

  flush(): void {
    if (this.off > 0) {
      this.sink(this.buf.slice(0, this.off));
      this.off = 0;
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.onClose?.();
  }
}

export interface PcapRecord {
  tsNs: number;
  data: Uint8Array;
  origLen: number;
}

/** Parse a pcap file (either timestamp resolution, either byte order). Throws on bad input. */
export function parsePcap(file: Uint8Array): { linktype: number; records: PcapRecord[] } {
  if (file.length < 24) throw new Error('pcap: file too short');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let le = true;
  let magic = dv.getUint32(0, true);
  if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) {
    le = false;
    magic = dv.getUint32(0, false);
    if (magic !== PCAP_MAGIC_NS && magic !== PCAP_MAGIC_US) throw new Error('pcap: bad magic');
  }
  const scale = magic === PCAP_MAGIC_NS ? 1 : 1000;
  const linktype = dv.getUint32(20, le);
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const orig = dv.getUint32(off + 12, le);
    if (off + 16 + incl > file.length) throw new Error('pcap: truncated record');
    records.push({ tsNs: sec * 1e9 + frac * scale, data: file.slice(off + 16, off + 16 + incl), origLen: orig });
    off += 16 + incl;
  }
  return { linktype, records };
}
