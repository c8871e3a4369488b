// bitstack/web - the browser-only parts: the IndexedDB block store and the
// budget from navigator.deviceMemory. Browser APIs, no DOM.
export { browserBudget } from './budget.js';
export { IdbStore } from './idb_store.js';
export { WorkerEngine } from './worker_engine.js';
