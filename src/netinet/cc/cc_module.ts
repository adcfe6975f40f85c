/*
 * Congestion-control module loading (FreeBSD's DECLARE_CC_MODULE / cc_register_algo for the
 * modules built into bsdnet).
 *
 * This file owns registerCcAlgorithms(V): it registers newreno and cubic in the Vnet's
 * registry (V.cc, created before TCP), declares the HyStart++ tunables
 * (net.inet.tcp.cc.hystartplusplus.*), and makes cubic the default for new connections, as
 * FreeBSD 14 does (CC_DEFAULT "cubic"; net.inet.tcp.cc.algorithm selects another).
 */

import type { Vnet } from '../../vnet.js';
import type { CcAlgo } from './cc.js';
import { cubic } from './cc_cubic.js';
import { newreno, registerHystartSysctls } from './cc_newreno.js';

/** The algorithms bsdnet builds in, in registration order. */
export const BUILTIN_CC_ALGORITHMS: readonly CcAlgo[] = Object.freeze([newreno, cubic]);

/** The default algorithm for new connections (FreeBSD 14's CC_DEFAULT). */
export const CC_DEFAULT = 'cubic';

/**
 * Register the built-in algorithms in V.cc and make cubic the default. Safe to call more than
 * once: algorithms already registered are skipped and the default is only set when cubic is
 * registered here (so a later call does not undo net.inet.tcp.cc.algorithm).
 */
export function registerCcAlgorithms(V: Vnet): void {
  const cc = V.cc;
  registerHystartSysctls(V);
  let setDefault = false;
  for (const algo of BUILTIN_CC_ALGORITHMS) {
    if (cc.get(algo.name) !== undefined) continue;
    cc.register(algo);
    if (algo.name === CC_DEFAULT) setDefault = true;
  }
  if (setDefault) cc.setDefault(CC_DEFAULT);
}
