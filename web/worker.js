// worker.js - the worker side of WorkerEngine (worker_engine.js): runs the
// Engine, its IndexedDB store and its downloads off the page's main thread,
// so decoding never blocks the UI. Messages in: {op, id, ...}; out: {id,
// type: 'result'|'error'|'token'|'chunk'|'end'} and unsolicited
// {type: 'progress'|'ready'|'ready-error'}, each with a snapshot of the
// engine's facts (the proxy answers stack() and info() from it).

import { Engine } from '../js/src/engine.js';
import { BitstackError } from '../js/src/errors.js';
import { browserBudget } from './budget.js';
import { IdbStore } from './idb_store.js';
import { OfflineTransport } from './offline.js';

let engine = null, store = null, chat = null, budget = null, transport = null, offline = null;
let jinjaUrl = null; // where @huggingface/jinja is (the page's import map says; a worker has no import map)
const net = { bytes: 0, requests: 0 };
const aborts = new Map(); // request id -> AbortController

async function countingFetch(input, init) {
  net.requests++;
  const res = await fetch(input, init);
  if (!res.body) return res;
  const counter = new TransformStream({
    transform(chunk, ctl) {
      net.bytes += chunk.length;
      ctl.enqueue(chunk);
    },
  });
  return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
}

function snapshot() {
  if (!engine || engine.closed) return null;
  const l = engine.loader;
  return {
    stack: engine.stack(), info: engine.info(), targetBlocks: engine.targetBlocks, position: engine.position,
    loader: { size: l.size, available: l.available, storeKey: l.storeKey, stats: { ...l.stats } },
    store: store && { mode: store.mode, warning: store.warning, persisted: store.persisted },
    offline: { ...offline, network: transport?.offline ? 'offline' : 'online' },
    net: { ...net }, budget, memoryBytes: engine.rt.x.memory.buffer.byteLength,
  };
}

/**
 * The engine's Chat, made once. @huggingface/jinja is imported by URL: its
 * package name means nothing in a worker (module workers get no import map).
 * Without a URL, Chat tries the name and reports BS_ERR_UNSUPPORTED.
 */
async function chatFor(e) {
  if (chat?.engine === e) return chat;
  const { Chat } = await import('../js/src/chat.js');
  let jinja;
  if (jinjaUrl) {
    try {
      jinja = await import(jinjaUrl);
    } catch (err) {
      throw new BitstackError('BS_ERR_UNSUPPORTED', `cannot import @huggingface/jinja from ${jinjaUrl}: ${err.message}`, { cause: err });
    }
  }
  chat = new Chat(e, { jinja });
  return chat;
}

const errorOf = (err) => ({ name: err?.name ?? 'Error', code: err?.code, message: err?.message ?? String(err) });

const ops = {
  async open({ source, options, jinjaUrl: jinja }) {
    jinjaUrl = jinja ?? null;
    if (!store) {
      store = await IdbStore.open(options.storeOptions ?? {});
      store.onwarning = () => postMessage({ type: 'snapshot', snapshot: snapshot() });
    }
    // the head kept in IndexedDB too, so a visit without network still opens the file (offline.js)
    // the transport is the worker's own (it counts bytes, keeps the head), so it takes the idle timeout itself
    transport = new OfflineTransport(source, { store, fetch: countingFetch, idleTimeoutMs: options.loader?.idleTimeoutMs });
    offline = { headStored: false, replaced: null };
    engine = await Engine.open(transport, {
      progressive: options.progressive ?? true,
      store,
      flavor: options.flavor,
      threads: options.threads,
      ctx: options.ctx,
      budget: (head) => {
        budget = browserBudget(head, options.budgetPolicy ?? {});
        return budget.bytes;
      },
      loader: options.loader,
      onProgress: (p) => postMessage({ type: 'progress', progress: p, snapshot: engine ? snapshot() : null }),
    });
    transport.commit(engine.loader.storeKey).then(({ replaced }) => {
      Object.assign(offline, { headStored: !transport.offline, replaced });
      postMessage({ type: 'snapshot', snapshot: snapshot() });
    }, (err) => (offline.error = err.message));
    engine.ready.then(() => postMessage({ type: 'ready', snapshot: snapshot() }),
      (err) => postMessage({ type: 'ready-error', error: errorOf(err), snapshot: snapshot() }));
    // a model with a template gets its chat now: the template engine is then among the files the page asks
    // the service worker to keep (offline visits), and a missing one is reported at the first reply
    if (engine.head.chatTemplate) await chatFor(engine).catch(() => {});
    // what the worker fetched itself (its modules, the wasm): the page asks the service worker to keep them
    const resources = performance.getEntriesByType('resource').map((e) => e.name);
    return { head: engine.head, snapshot: snapshot(), resources };
  },
  async resize({ budget: b }) {
    await engine.resize(b);
    return snapshot();
  },
  async reset() {
    engine.reset();
    return snapshot();
  },
  async tokenize({ text, opts }) {
    return engine.tokenize(text, opts);
  },
  async generate({ id, prompt, options }, signal) {
    for await (const t of engine.generate(prompt, { ...options, signal })) postMessage({ id, type: 'token', token: t });
    return snapshot();
  },
  async chat({ id, request }, signal) {
    const stream = await (await chatFor(engine)).completions.create({ ...request, stream: true }, { signal });
    for await (const c of stream) {
      postMessage({ id, type: 'chunk', chunk: c });
    }
    return snapshot();
  },
  async close() {
    await engine?.close();
    engine = chat = null;
    return null;
  },
};

onmessage = async (e) => {
  const msg = e.data;
  if (msg.op === 'abort') {
    aborts.get(msg.target)?.abort();
    return;
  }
  const ac = new AbortController();
  aborts.set(msg.id, ac);
  try {
    const value = await ops[msg.op](msg, ac.signal);
    postMessage({ id: msg.id, type: 'result', value });
  } catch (err) {
    postMessage({ id: msg.id, type: 'error', error: errorOf(err), snapshot: snapshot() });
  } finally {
    aborts.delete(msg.id);
  }
};
