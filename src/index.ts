/*
 * bsdnet's public entry point (`import { Stack } from 'bsdnet'`).
 */

export { type DgramApi, type RemoteInfo, UdpSocket } from './api/dgram.js';
export { NetApi, Server, Socket } from './api/net.js';
export { Stack, type StackOptions } from './api/stack.js';
export { RealClock, VirtualClock } from './kern/clock.js';
export { ControlServer, connectControl } from './api/control.js';
export { PcapWriter } from './net/pcap.js';
export { Vnet } from './vnet.js';
