// bitstack - any-size LLMs from one .bstk file, in WebAssembly.
//
//   import { Engine, Chat } from 'bitstack';
//   const engine = await Engine.open('model.bstk', { budget: '3.5bpw' });
//   for await (const t of engine.generate('Once upon a time', { maxTokens: 60 })) process.stdout.write(t.text);
//
// No DOM and no Node-only import here: Node extras (the directory block
// store) come from 'bitstack/node'.
export { BASELINE_SIDES, Baselines } from './baselines.js';
export { blocksForBudget, budgetBytes, defaultBudgetBytes, parseBudget, sessionBytes } from './budget.js';
export { Chat, renderTemplate, validateRequest } from './chat.js';
export { crc32c } from './crc32c.js';
export { Engine, Sampler } from './engine.js';
export { BitstackError, isAbortError, STATUS_NAMES, statusName } from './errors.js';
export { availableBlocks, blockEntry, KIND_NAMES, parseHead, parseHeader, parseMetadata, payloadSize, ROLE_NAMES } from './format.js';
export { FileTransport, HttpTransport, RangeLoader, transportFor } from './loader.js';
export { MAX_THREADS, Runtime, simdSupported, threadsUnavailable } from './runtime.js';
export { MemoryStore } from './store.js';
