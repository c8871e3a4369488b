// bitstack/web - the browser-only parts: the IndexedDB block store, the
// offline head (offline.js), the worker engine and the budget from
// navigator.deviceMemory. Browser APIs, no DOM.
export { browserBudget } from './budget.js';
export { IdbStore } from './idb_store.js';
export { isNetworkDown, OfflineTransport } from './offline.js';
export { WorkerEngine } from './worker_engine.js';
