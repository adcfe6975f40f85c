/*
 * Node-style errors at the API edge.
 *
 * Inside the stack failures are FreeBSD errno numbers; the API turns them into errors shaped
 * like Node's SystemError from `net`/`dgram`: a message such as "connect ECONNREFUSED
 * 10.0.0.2:80", and the properties `code` (the symbolic name), `errno` (negative, as libuv
 * reports), `syscall`, and `address`/`port` when they apply.
 */

import { errnoName, strerror } from '../sys/errno.js';

export interface StackError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** An error for errno `e` raised by `syscall` (optionally about address:port). */
export function errnoException(e: number, syscall: string, address?: string, port?: number): StackError {
  const code = errnoName(e);
  let msg = `${syscall} ${code}`;
  if (address !== undefined) msg += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const err = new Error(msg) as StackError;
  err.code = code;
  err.errno = -e;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined && port > 0) err.port = port;
  Object.defineProperty(err, 'description', { value: strerror(e), enumerable: false });
  return err;
}

/** A TypeError like Node's ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_SOCKET_BAD_PORT. */
export function argError(
  code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_SOCKET_BAD_PORT' | 'ERR_OUT_OF_RANGE',
  message: string,
): TypeError & { code: string } {
  const err = (code === 'ERR_SOCKET_BAD_PORT' || code === 'ERR_OUT_OF_RANGE' ? new RangeError(message) : new TypeError(message)) as TypeError & {
    code: string;
  };
  err.code = code;
  return err;
}

/** A state error like Node's ERR_SOCKET_DGRAM_NOT_RUNNING and friends. */
export function stateError(code: string, message: string): Error & { code: string } {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}
