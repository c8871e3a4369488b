// errors.js - the one error class of the library.
//
// BitstackError.code mirrors the C status names (core/src/status.c):
// "BS_ERR_FORMAT", "BS_ERR_CHECKSUM", ... so that a failure reads the same
// whether the C core or the JavaScript around it found it. Cancellation is
// not an error of ours: it surfaces as the platform's AbortError (the
// signal's reason, a DOMException named "AbortError" by default).

/** Status names by the pinned values of bs_status (bitstack.h). */
export const STATUS_NAMES = Object.freeze([
  'BS_OK',
  'BS_ERR_INVALID_ARG',
  'BS_ERR_IO',
  'BS_ERR_FORMAT',
  'BS_ERR_UNSUPPORTED',
  'BS_ERR_NOMEM',
  'BS_ERR_TRUNCATED',
  'BS_ERR_CHECKSUM',
  'BS_ERR_RANGE',
  'BS_ERR_VERSION',
  'BS_ERR_STATE',
]);

/**
 * @typedef {'BS_ERR_INVALID_ARG'|'BS_ERR_IO'|'BS_ERR_FORMAT'|'BS_ERR_UNSUPPORTED'|'BS_ERR_NOMEM'|
 *   'BS_ERR_TRUNCATED'|'BS_ERR_CHECKSUM'|'BS_ERR_RANGE'|'BS_ERR_VERSION'|'BS_ERR_STATE'} BitstackErrorCode
 */

export class BitstackError extends Error {
  /**
   * @param {BitstackErrorCode} code
   * @param {string} message
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'BitstackError';
    /** @type {BitstackErrorCode} */
    this.code = code;
  }
}

/** The name of a numeric bs_status ("BS_ERR_UNKNOWN" for values we do not know). */
export function statusName(status) {
  return STATUS_NAMES[status] ?? 'BS_ERR_UNKNOWN';
}

/** Throws the signal's reason (an AbortError) when it has been aborted. */
export function throwIfAborted(signal) {
  if (signal?.aborted) throw abortReason(signal);
}

/** The error an aborted signal stands for. */
export function abortReason(signal) {
  return signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** True for the error a cancelled operation throws. */
export function isAbortError(err) {
  return err?.name === 'AbortError';
}

/**
 * Waits ms milliseconds, or rejects with the AbortError when signal fires.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
