// budget.js (web) - the default weight budget in a browser.
//
// navigator.deviceMemory is a hint: Chromium reports the device's RAM in
// GiB rounded down to a power of two and capped (8 in older versions, 16 or
// 32 in newer ones); Firefox and Safari do not report it at all. So:
//
//   device   = deviceMemory GiB when reported, else `fallbackGiB` (4)
//   room     = device * fraction (1/4: the tab shares the machine with the
//              browser, other tabs and the OS)
//   weights  = room - KV cache - scratch (sessionBytes(config, ctx))
//   budget   = clamp(weights, resident section, whole file)
//
// An explicit budget (bytes, "12MB", "3.5bpw") always wins: `override`.
// The same arithmetic as js/src/budget.js defaultBudgetBytes with the
// device memory in place of os.totalmem().

import { budgetBytes, parseBudget, sessionBytes } from '../js/src/budget.js';

/**
 * @typedef {object} BrowserBudgetOptions
 * @property {number|string|null} [override=null] an explicit budget; wins over everything
 * @property {number} [deviceMemory=navigator.deviceMemory] GiB (pass to test; undefined = not reported)
 * @property {number} [fallbackGiB=4] assumed when the browser does not report deviceMemory
 * @property {number} [fraction=0.25] share of the device's memory the model may take, KV cache included
 * @property {number} [ctx] KV cache length in tokens (default min(seq_len, 2048), as the engine)
 */

/**
 * The budget in weight bytes for this file on this device, and how it was found.
 * @param {import('../js/src/format.js').BstkHead} head
 * @param {BrowserBudgetOptions} [options]
 * @returns {{bytes: number, source: 'override'|'deviceMemory'|'fallback', deviceGiB: number, sessionBytes: number}}
 */
export function browserBudget(head, options = {}) {
  const kv = sessionBytes(head.config, options.ctx ?? Math.min(head.config.seqLen, 2048));
  const clamp = (b) => Math.min(head.fullBytes, Math.max(head.residentBytes, b));
  const reported = 'deviceMemory' in options ? options.deviceMemory : globalThis.navigator?.deviceMemory;
  const known = typeof reported === 'number' && reported > 0;
  const deviceGiB = known ? reported : (options.fallbackGiB ?? 4);
  if (options.override !== undefined && options.override !== null && options.override !== '') {
    return { bytes: clamp(budgetBytes(head, parseBudget(options.override))), source: 'override', deviceGiB, sessionBytes: kv };
  }
  const room = Math.floor(deviceGiB * 2 ** 30 * (options.fraction ?? 0.25)) - kv;
  return { bytes: clamp(room), source: known ? 'deviceMemory' : 'fallback', deviceGiB, sessionBytes: kv };
}
