/*
 * The `bsdnet` command: dispatch to subcommands.
 */

import { benchMain } from './bench.js';
import { demoMain } from './demo.js';
import { drillMain } from './drill.js';
import { netstatMain } from './netstat.js';
import { sysctlMain } from './sysctl.js';
import { tcpdumpMain } from './tcpdump.js';
import { traceMain } from './trace.js';

const USAGE = `usage: bsdnet <command> [options]

commands:
  demo                 run the demonstration (what \`npm start\` runs)
  bench NAME [--json]  run a benchmark (list them with \`bsdnet bench --list\`)
  drill PATH...        run packetdrill scripts in virtual time
  sysctl [-adNn] NAME[=VALUE]   read or write sysctls (--attach PATH: a running stack)
  netstat [-anrsimxV]  sockets, statistics, routes, interfaces, mbufs (--attach PATH)
  tcpdump -i IF [-w FILE] [-c N] [expr]   capture packets (--attach PATH, or -r FILE)
  trace [-n PATTERN] [-w FILE.json]    trace probes live (--attach PATH); trace sessions|dump|plot:
                       TCP black-box logs, and an SVG of a connection's sequence/cwnd/RTT
  tun --name NAME --addr A/LEN [...]   run a bsdnet host behind a Linux TUN device (root)
  help                 this text
`;

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'demo':
      return demoMain(rest);
    case 'bench':
      return benchMain(rest);
    case 'drill':
      return drillMain(rest);
    case 'sysctl':
      return sysctlMain(rest);
    case 'netstat':
      return netstatMain(rest);
    case 'tcpdump':
      return tcpdumpMain(rest);
    case 'trace':
      return traceMain(rest);
    case 'tun':
      return (await import('./tun.js')).tunMain(rest);
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`bsdnet: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}
