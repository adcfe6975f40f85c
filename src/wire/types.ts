/*
 * Shared shapes of the wire layer.
 *
 * Every codec offers:
 *   - a View class over (buf, off, len): getters and setters for each field, no allocation,
 *     reusable through attach() so kernel hot paths can keep one per instance;
 *   - a Repr: a plain, validated value type, with parseX(bytes, ...) → ParseResult<XRepr>
 *     (never throws: malformed input is a rejection with a reason), emitX(repr, buf, off, ...)
 *     → bytes written, and xReprLen(repr) → the exact length emitX writes.
 */

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function ok<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function fail<T>(error: string): ParseResult<T> {
  return { ok: false, error };
}
