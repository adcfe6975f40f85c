/*
 * The packetdrill script AST (what parser.ts produces and runner.ts executes).
 *
 * Every node that can be the subject of an error carries its source position (line and
 * column, both 1-based). Times are in microseconds. Constructs the parser accepts but the
 * runner cannot execute are recorded in `unsupported` on the node (naming the construct),
 * so a script parses fully and comes out UNSUPPORTED, not ERROR, when run.
 */

export interface Pos {
  line: number;
  col: number;
}

export type TimeKind = 'abs' | 'rel' | 'any' | 'absRange' | 'relRange';

export interface EventTime {
  kind: TimeKind;
  /** Start (µs); for 'any' 0. */
  usecs: number;
  /** End of a `~` range (µs). */
  endUsecs: number;
}

export interface ScriptOption {
  name: string;
  value: string | null;
  pos: Pos;
}

// ---- expressions (system call arguments and results) ----

export type Expr =
  | { type: 'int'; value: number; raw: string; pos: Pos }
  | { type: 'ellipsis'; pos: Pos }
  | { type: 'word'; name: string; pos: Pos }
  | { type: 'string'; value: string; ellipsis: boolean; pos: Pos }
  | { type: 'addr'; value: string; pos: Pos }
  | { type: 'list'; items: Expr[]; pos: Pos }
  | { type: 'binop'; op: '|' | '&' | '+' | '-'; left: Expr; right: Expr; pos: Pos }
  | { type: 'call'; name: string; args: Expr[]; pos: Pos }
  | { type: 'struct'; fields: StructField[]; pos: Pos }
  | { type: 'neg'; operand: Expr; pos: Pos };

export interface StructField {
  /** Field name, or null for positional members (`{..., 100}`). */
  name: string | null;
  /** `msg_iov(1)=...`: the parenthesised count. */
  param: Expr | null;
  value: Expr;
  pos: Pos;
}

// ---- packets ----

export interface IpInfo {
  ecn?: 'ect0' | 'ect1' | 'ce' | 'noecn' | 'ect01';
  tos?: number;
  ttl?: number;
  /** Hop limit (NPLab `hlim`). */
  hlim?: number;
  flowlabel?: number;
  dscp?: number;
  pos: Pos;
}

export type TcpOption =
  | { kind: 'nop'; pos: Pos }
  | { kind: 'eol'; pos: Pos }
  | { kind: 'mss'; value: number; pos: Pos }
  | { kind: 'wscale'; value: number; pos: Pos }
  | { kind: 'sackOK'; pos: Pos }
  | { kind: 'sack'; blocks: [number, number][]; pos: Pos }
  | { kind: 'ts'; val: number; ecr: number; ecrAbsolute: boolean; valIgnore: boolean; pos: Pos }
  | { kind: 'fo'; cookie: Uint8Array; pos: Pos }
  | { kind: 'foexp'; cookie: Uint8Array; pos: Pos }
  | { kind: 'md5'; digest: Uint8Array | null; pos: Pos }
  | { kind: 'generic'; optKind: number; data: Uint8Array; pos: Pos }
  | { kind: 'exp'; exid: number; data: Uint8Array; pos: Pos }
  | { kind: 'raw'; data: Uint8Array; pos: Pos }
  | { kind: 'accecn'; name: string; fields: [string, number][]; pos: Pos };

export interface SeqSpec {
  start: number;
  end: number;
  len: number;
  /** NPLab `a:b(n)!`: not mapped through the ISN. */
  absolute: boolean;
  /** NPLab `...(n)`: the sequence number is not checked. */
  ignore: boolean;
  pos: Pos;
}

export interface PortPair {
  src: number;
  dst: number;
}

export interface TcpPacket {
  proto: 'tcp';
  dir: 'in' | 'out';
  ip: IpInfo | null;
  ports: PortPair | null;
  flags: string;
  flagsPos: Pos;
  seq: SeqSpec;
  ack: number | null;
  win: number | null;
  urg: number | null;
  /** null: no options written; 'nocheck': `<...>`. */
  options: TcpOption[] | 'nocheck' | null;
  /** NPLab `/udp(sport > dport)`: TCP over UDP. */
  udpEncap: PortPair | null;
  pos: Pos;
}

export interface UdpPacket {
  proto: 'udp';
  dir: 'in' | 'out';
  ip: IpInfo | null;
  ports: PortPair | null;
  len: number;
  pos: Pos;
}

export type IcmpEchoed =
  | { kind: 'tcp'; seq: SeqSpec; udpEncap: PortPair | null }
  | { kind: 'udp'; len: number }
  | { kind: 'raw'; len: number }
  | { kind: 'other'; what: string };

export interface IcmpPacket {
  proto: 'icmp';
  dir: 'in' | 'out';
  ip: IpInfo | null;
  icmpType: string;
  icmpCode: string | null;
  mtu: number | null;
  id: number | null;
  echoed: IcmpEchoed | null;
  pos: Pos;
}

export interface OtherPacket {
  proto: 'other';
  dir: 'in' | 'out';
  what: string;
  pos: Pos;
}

export type Packet = TcpPacket | UdpPacket | IcmpPacket | OtherPacket;

export interface Syscall {
  name: string;
  args: Expr[];
  result: Expr;
  errno: string | null;
  errnoPos: Pos | null;
  note: string | null;
  /** `start...end`: the call blocks and must return at `end` (µs, as written). */
  endUsecs: number | null;
  pos: Pos;
}

export type EventBody =
  | { type: 'packet'; packet: Packet }
  | { type: 'syscall'; call: Syscall }
  | { type: 'command'; command: string; pos: Pos }
  | { type: 'code'; code: string; pos: Pos };

export interface ScriptEvent {
  time: EventTime;
  body: EventBody;
  line: number;
  pos: Pos;
  /** Set when the runner cannot execute this event, naming the construct. */
  unsupported: string | null;
}

export interface Script {
  options: ScriptOption[];
  initCommand: { command: string; pos: Pos } | null;
  events: ScriptEvent[];
  cleanupCommand: { command: string; pos: Pos } | null;
  /** Script-level constructs the runner cannot execute (options, ...). */
  unsupported: { what: string; pos: Pos }[];
}
