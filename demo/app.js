// app.js - the chat demo: owns the page (the library and web/ have no DOM).
//
// Loads a .bstk progressively: the engine opens once the resident section
// is in and the chat is usable at once; stack blocks attach as they arrive
// (quality climbs along the file's stored perplexity curve). Blocks and the
// file's head are kept in IndexedDB and the page's files by a service worker
// (sw.js), so a second visit fetches only the head, and works with no
// network at all (web/offline.js). The budget slider grows or shrinks the
// live model (Engine.resize) without a reload. The model menu lists what the
// server offers (/models/index.json, written by serve.mjs).
//
// Query parameters: model=URL (default: the demo model next to the page),
// budget=SIZE (an explicit budget: bytes, 12MB, 3.5bpw; default from
// navigator.deviceMemory), chunk=BYTES (largest request; small values show
// the progress block by block), record=BYTES (longest IndexedDB record: the
// tests make it small so that one unit spans several), idle=MS (a request
// that receives nothing this long is dropped and retried; default 30 s),
// autoload=0 (wait for the Load button),
// worker=1 (the engine in a Web Worker, web/worker_engine.js: the page stays
// responsive while it decodes), sw=0 (no service worker).
// window.demo exposes the state for the end-to-end tests.

// the template engine by its package name (the page's import map): loaded with the page, so that the service
// worker keeps it for offline visits; the library itself imports it only when a chat needs it
import * as jinja from '@huggingface/jinja';

import { Chat, Engine, isAbortError } from '/js/src/index.js';
import { browserBudget, IdbStore, OfflineTransport, WorkerEngine } from '/web/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MB = 1e6;
const useWorker = params.get('worker') === '1';
// Threads of the forward pass: ?threads=N, else the cores the browser reports, at most 4 (decode is bound
// by memory bandwidth: past a few threads rows get short and cores contend). Where the page is not
// cross-origin isolated the runtime falls back to one thread and says why (the facts show it).
const threads = Math.max(1, Math.min(16, Number(params.get('threads'))
  || Math.min(navigator.hardwareConcurrency || 1, 4)));
const fmtBytes = (n) => (n >= MB ? `${(n / MB).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);

/** Everything the page knows; read by the tests through window.demo.state. */
const state = {
  phase: 'idle', // idle | loading | ready (resident in, chat usable) | complete (budget's blocks in) | error
  error: null,
  net: { bytes: 0, requests: 0 }, // bytes received over the network by the loader's fetch
  fileSize: 0,
  blocks: { loaded: 0, target: 0, total: 0, fromCache: 0, fromNet: 0, cacheBytes: 0 },
  firstToken: null, // {netBytes, blocksLoaded, ms} at the first token of the page's life
  replies: [], // the assistant's texts, in order
  busy: false,
  tokensPerSec: 0,
  budget: null, // {bytes, source, deviceGiB}
  store: null, // {mode, warning, persisted}
  // network: online | offline (the file's head replayed from IndexedDB); headStored: kept for offline visits;
  // replaced: the file key of an older version of this URL whose blocks were dropped; sw: the service worker's state,
  // swCached: page files it stored when asked
  offline: { network: 'online', headStored: false, replaced: null, sw: 'none', swCached: null },
  resizes: 0,
  resizeLog: [], // {blocks, duringReply} per finished resize
  loadStarted: 0,
};

let engine = null, chat = null, store = null, generation = null, transport = null;
let loadingHead = null; // the head, known before Engine.open returns (progress comes earlier)
const history = [];

/** fetch that counts the body bytes it delivers (what the page really pulled from the network). */
async function countingFetch(input, init) {
  state.net.requests++;
  const res = await fetch(input, init);
  if (!res.body) return res;
  const counter = new TransformStream({
    transform(chunk, ctl) {
      state.net.bytes += chunk.length;
      ctl.enqueue(chunk);
    },
  });
  return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
}

function setStatus(text, kind = '') {
  $('status').textContent = text;
  $('status').className = `status ${kind}`;
}

// ---- loading -------------------------------------------------------------------------

async function load(url) {
  if (engine) {
    generation?.abort();
    await engine.close();
    engine = chat = null;
  }
  Object.assign(state, { phase: 'loading', error: null, fileSize: 0, loadStarted: performance.now() });
  state.blocks = { loaded: 0, target: 0, total: 0, fromCache: 0, fromNet: 0, cacheBytes: 0 };
  Object.assign(state.offline, { network: 'online', headStored: false, replaced: null });
  history.length = 0;
  blockSource.length = 0;
  $('log').textContent = '';
  setStatus('fetching the head…');
  const chunk = Number(params.get('chunk')) || undefined;
  const idleTimeoutMs = Number(params.get('idle')) || undefined;
  const storeOptions = { maxRecordBytes: Number(params.get('record')) || undefined };
  try {
    if (useWorker) {
      // the worker keeps its own store and counts its own bytes
      engine = await WorkerEngine.open(url, {
        budgetPolicy: { override: params.get('budget') },
        threads,
        loader: { maxRequestBytes: chunk, backoffMs: 50, idleTimeoutMs },
        storeOptions,
        onProgress,
      });
      state.budget = engine.budget;
      state.store = engine.store;
    } else {
      if (!store) {
        store = await IdbStore.open(storeOptions);
        store.onwarning = () => update();
      }
      state.store = { mode: store.mode, warning: store.warning, persisted: store.persisted };
      transport = new OfflineTransport(url, { store, fetch: countingFetch, idleTimeoutMs });
      engine = await Engine.open(transport, {
        progressive: true,
        store,
        budget: (head) => {
          loadingHead = head;
          state.budget = browserBudget(head, { override: params.get('budget') });
          return state.budget.bytes;
        },
        loader: { maxRequestBytes: chunk, backoffMs: 50 },
        threads,
        onProgress: onProgress,
      });
    }
  } catch (err) {
    state.phase = 'error';
    state.error = `${err.code ?? err.name}: ${err.message}`;
    setStatus(`cannot load: ${err.message}`, 'bad');
    return;
  }
  state.offline.network = (useWorker ? engine.offline?.network : transport.offline ? 'offline' : 'online') ?? 'online';
  if (!useWorker) {
    const t = transport;
    t.commit(engine.loader.storeKey).then(({ replaced }) => {
      Object.assign(state.offline, { headStored: !t.offline, replaced });
      update();
    }, (err) => setStatus(`cannot keep the head for offline visits: ${err.message}`, 'warn'));
  }
  keepPageFiles(url);
  state.fileSize = engine.loader.size;
  state.blocks.total = engine.loader.available;
  state.phase = 'ready';
  chat = !engine.head.chatTemplate ? null : useWorker ? 'worker' : new Chat(engine, { jinja });
  setupBudget();
  drawBlocks();
  $('prompt').disabled = $('send').disabled = false;
  $('prompt').placeholder = chat ? 'Say something…' : 'Start a story: Once upon a time…';
  const where = state.offline.network === 'offline' ? 'offline, the model from this browser\'s storage: ' : '';
  setStatus(where + (chat ? 'ready: chatting with the file\'s template' : 'ready: this model has no chat template, it continues your text'),
    where ? 'warn' : '');
  engine.ready.then(() => {
    state.phase = 'complete';
    update();
  }, (err) => {
    if (isAbortError(err) || engine?.closed) return;
    state.error = `${err.code ?? err.name}: ${err.message}`;
    setStatus(`download stopped: ${err.message}`, 'bad');
  });
  update();
}

function onProgress(p) {
  const b = state.blocks;
  b.loaded = p.blocks;
  b.target = p.targetBlocks;
  const head = engine?.head ?? loadingHead;
  if (p.phase === 'resident' || p.phase === 'block') {
    // units: the resident section, then one block each
    const bytes = !head ? 0 : p.phase === 'resident' ? head.residentBytes : head.cumulative[p.blocks] - head.cumulative[p.blocks - 1];
    if (p.cached) {
      b.fromCache++;
      b.cacheBytes += bytes;
    } else b.fromNet++;
    if (p.phase === 'block') blockSource[p.blocks - 1] = p.cached ? 'cache' : 'net';
  }
  update();
}

// ---- budget and curve ----------------------------------------------------------------------

function setupBudget() {
  const head = engine.head;
  const slider = $('budget');
  slider.min = (head.residentBytes / MB).toFixed(3);
  slider.max = (head.cumulative[engine.loader.available] / MB).toFixed(3);
  slider.step = '0.001';
  slider.value = (head.cumulative[engine.targetBlocks] / MB).toFixed(3);
  slider.disabled = false;
  const b = state.budget;
  const why = b.source === 'override' ? 'set by the page URL'
    : b.source === 'deviceMemory' ? `navigator.deviceMemory ${b.deviceGiB} GiB × ¼ − ${fmtBytes(b.sessionBytes)} KV cache and scratch`
      : `no navigator.deviceMemory: assumed ${b.deviceGiB} GiB × ¼ − ${fmtBytes(b.sessionBytes)} KV cache and scratch`;
  $('budget-note').textContent = `default ${fmtBytes(b.bytes)}: ${why}. Drag to grow or shrink the live model.`;
}

let resizing = Promise.resolve();
function onBudgetChange() {
  if (!engine) return;
  const bytes = Math.round(Number($('budget').value) * MB);
  const e = engine;
  // resizes run one after another, in the order the slider moved
  resizing = resizing.then(async () => {
    setStatus(`resizing to ${fmtBytes(bytes)}…`);
    try {
      await e.resize(bytes);
      state.resizes++;
      state.resizeLog.push({ blocks: e.stack().nLoaded, duringReply: state.busy });
      state.blocks.target = e.targetBlocks;
      state.blocks.loaded = e.stack().nLoaded;
      setStatus(`model now ${fmtBytes(e.stack().loadedBytes)} (${e.stack().nLoaded} blocks)`);
    } catch (err) {
      setStatus(`resize: ${err.message}`, 'bad');
    }
    update();
  });
}

function curvePoints() {
  const m = engine?.head.meta;
  const bytes = m?.get('curve.bytes')?.value, ppl = m?.get('curve.ppl')?.value;
  if (!bytes || !ppl || bytes.length !== ppl.length) return null;
  return Array.from(bytes, (x, i) => [Number(x), Number(ppl[i])]);
}

/** Perplexity at a size, log-linear between the stored points. */
function pplAt(points, x) {
  if (x <= points[0][0]) return points[0][1];
  for (let i = 1; i < points.length; i++) {
    if (x <= points[i][0]) {
      const [x0, y0] = points[i - 1], [x1, y1] = points[i];
      const t = (x - x0) / (x1 - x0);
      return Math.exp(Math.log(y0) + t * (Math.log(y1) - Math.log(y0)));
    }
  }
  return points.at(-1)[1];
}

function drawCurve() {
  const cv = $('curve'), g = cv.getContext('2d');
  const W = cv.width, H = cv.height, L = 52, R = 14, T = 16, B = 36;
  g.clearRect(0, 0, W, H);
  const pts = curvePoints();
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = '#8b93a7';
  if (!pts) {
    g.fillText(engine ? 'this file stores no perplexity curve' : 'load a model to see its perplexity curve', L, H / 2);
    return;
  }
  const x0 = pts[0][0], x1 = Math.max(pts.at(-1)[0], engine.head.fullBytes);
  // the first levels are off the chart (ppl in the thousands): cap the axis at 100x the best
  const best = Math.min(...pts.map((p) => p[1]));
  const yTop = Math.log(Math.min(Math.max(...pts.map((p) => p[1])), best * 100)), yBot = Math.log(best * 0.9);
  const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const Y = (p) => T + ((yTop - Math.min(Math.log(p), yTop)) / (yTop - yBot)) * (H - T - B);
  g.strokeStyle = '#262c3a';
  g.lineWidth = 1;
  for (const p of [best, best * 2, best * 10, best * 100]) {
    if (Math.log(p) > yTop + 1e-9) continue;
    g.beginPath(); g.moveTo(L, Y(p)); g.lineTo(W - R, Y(p)); g.stroke();
    g.fillText(p >= 100 ? p.toFixed(0) : p.toFixed(1), 6, Y(p) + 4);
  }
  g.fillText(fmtBytes(x0), L, H - 12);
  g.textAlign = 'right';
  g.fillText(fmtBytes(x1), W - R, H - 12);
  g.textAlign = 'center';
  g.fillText('size → (perplexity, log scale)', (L + W) / 2, H - 12);
  g.textAlign = 'left';
  // the curve
  g.strokeStyle = '#60a5fa';
  g.lineWidth = 2;
  g.beginPath();
  pts.forEach(([x, p], i) => (i ? g.lineTo(X(x), Y(p)) : g.moveTo(X(x), Y(p))));
  g.stroke();
  g.fillStyle = '#60a5fa';
  for (const [x, p] of pts) { g.beginPath(); g.arc(X(x), Y(p), 3, 0, 2 * Math.PI); g.fill(); }
  // the budget (dashed) and where the live model is now (the dot)
  const budget = Number($('budget').value) * MB;
  g.strokeStyle = '#fbbf24';
  g.setLineDash([4, 4]);
  g.beginPath(); g.moveTo(X(budget), T); g.lineTo(X(budget), H - B); g.stroke();
  g.setLineDash([]);
  const now = engine.head.cumulative[state.blocks.loaded];
  const p = pplAt(pts, now);
  g.fillStyle = '#6ee7b7';
  g.beginPath(); g.arc(X(now), Y(p), 6, 0, 2 * Math.PI); g.fill();
  const label = `now: ${fmtBytes(now)}, ppl ≈ ${p.toFixed(2)}`;
  const w = g.measureText(label).width;
  // right of the dot, or left of it when it would run off the chart
  const lx = X(now) + 10 + w <= W - R ? X(now) + 10 : X(now) - 10 - w;
  g.fillText(label, Math.max(L, lx), Math.max(Y(p) - 10, T + 10));
}

// ---- the side panel ---------------------------------------------------------------------------

function drawBlocks() {
  const el = $('blocks');
  const n = state.blocks.total;
  if (el.childElementCount !== n) el.replaceChildren(...Array.from({ length: n }, () => document.createElement('i')));
  el.classList.toggle('dense', n > 400); // a chat model has thousands of blocks: smaller cells
}

const blockSource = []; // 'net' | 'cache' per block index, as they arrived

function update() {
  const b = state.blocks;
  $('budget-label').textContent = engine ? fmtBytes(Number($('budget').value) * MB) : '–';
  if (engine) {
    const head = engine.head;
    const loadedBytes = head.cumulative[b.loaded];
    const targetBytes = head.cumulative[Math.max(b.target, b.loaded)];
    $('bar-fill').style.width = `${(100 * loadedBytes) / targetBytes}%`;
    $('progress-text').textContent =
      `blocks ${b.loaded} / ${b.target} (file ${b.total}) · ${fmtBytes(loadedBytes)} of ${fmtBytes(targetBytes)} · ` +
      `network ${fmtBytes(state.net.bytes)} of ${fmtBytes(state.fileSize)} file`;
    const cells = $('blocks').children;
    for (let i = 0; i < cells.length; i++) {
      cells[i].className = i < b.loaded ? (blockSource[i] ?? 'net') : i < b.target ? '' : 'off';
    }
    if (useWorker) {
      state.net = { ...engine.net };
      state.store = engine.store;
      Object.assign(state.offline, engine.offline ?? {});
    } else state.store = { mode: store.mode, warning: store.warning, persisted: store.persisted };
    const s = engine.stack(), info = engine.info();
    const facts = {
      'weights in use': fmtBytes(s.loadedBytes),
      'bits / weight': s.bpw.toFixed(2),
      'KV cache + scratch': fmtBytes(info.sessionBytes),
      'wasm memory': fmtBytes(engine.rt ? engine.rt.x.memory.buffer.byteLength : engine.memoryBytes),
      'from the cache': `${b.fromCache} units, ${fmtBytes(b.cacheBytes)}`,
      'from the network': `${b.fromNet} units, ${fmtBytes(state.net.bytes)} in ${state.net.requests} requests`,
      'tokens / s': state.tokensPerSec ? state.tokensPerSec.toFixed(1) : '–',
      'block store': `${state.store.mode}${state.store.persisted ? ' (persistent)' : ''}`,
      'offline visits': offlineFact(),
      'server': serverFact(),
      'kernels': `${info.flavor} (${info.kernels}), ${info.threads} thread${info.threads === 1 ? '' : 's'}`
        + `${info.threadsUnavailable ? ` (${info.threadsUnavailable})` : ''}, `
        + `${useWorker ? 'in a Web Worker' : 'on the main thread'}`,
      'model': `${info.nLayers} layers, dim ${info.dim}, vocab ${info.vocabSize}`,
    };
    $('facts').replaceChildren(...Object.entries(facts).flatMap(([k, v]) => {
      const dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v;
      return [dt, dd];
    }));
    $('notice').textContent = state.store.warning ?? '';
    $('notice').hidden = !state.store.warning;
  }
  drawCurve();
}

// ---- offline visits -----------------------------------------------------------------------

/** How the server answered: Range requests (206) or, without Range support, one whole-file response. */
function serverFact() {
  const stats = engine.loader.stats;
  if (state.offline.network === 'offline') return 'not reached (offline)';
  return stats.fullGets > 0 ? `no Range support (HTTP 200): the whole file in ${stats.fullGets} response(s)` : 'Range requests (206)';
}

function offlineFact() {
  const o = state.offline;
  if (o.network === 'offline') return 'offline now: head and blocks from IndexedDB';
  const page = o.sw === 'active' ? `page kept${o.swCached !== null ? ` (+${o.swCached} files)` : ''}` : `service worker: ${o.sw}`;
  return `${o.headStored ? 'head kept' : 'head not kept yet'}, ${page}`;
}

/** Registers the service worker (sw.js), which keeps the page's files for offline visits. */
async function registerServiceWorker() {
  if (params.get('sw') === '0') return;
  if (!navigator.serviceWorker) {
    state.offline.sw = 'unsupported';
    return;
  }
  state.offline.sw = 'registering';
  try {
    await navigator.serviceWorker.register('/demo/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    state.offline.sw = 'active';
  } catch (err) {
    state.offline.sw = `failed (${err.message})`;
  }
  update();
}
const swRegistered = registerServiceWorker();

/** Asks the service worker to keep the files this page loaded before it took control (the model excluded). */
async function keepPageFiles(modelUrl) {
  await swRegistered;
  if (state.offline.sw !== 'active' || state.offline.network === 'offline') return;
  const urls = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name), ...(engine?.resources ?? [])]
    .filter((u) => u.startsWith(location.origin) && u !== modelUrl);
  const reg = await navigator.serviceWorker.ready;
  navigator.serviceWorker.addEventListener('message', function done(e) {
    if (e.data?.type !== 'cached') return;
    navigator.serviceWorker.removeEventListener('message', done);
    state.offline.swCached = e.data.n;
    update();
  });
  reg.active.postMessage({ type: 'cache', urls: [...new Set(urls)] });
}

// ---- the model menu ---------------------------------------------------------------------------

/** Fills the model menu from the server's list (absent: the menu stays hidden). */
async function listModels() {
  let list = [];
  try {
    const res = await fetch('/models/index.json');
    if (res.ok) list = await res.json();
  } catch {
    return;
  }
  if (!list.length) return;
  const menu = $('model-menu');
  menu.replaceChildren(...list.map((m) => {
    const o = document.createElement('option');
    o.value = new URL(m.url, location.href).href;
    o.textContent = `${m.name} · ${fmtBytes(m.bytes)}`;
    return o;
  }));
  const cur = $('model-url').value;
  if (![...menu.options].some((o) => o.value === cur)) {
    const o = document.createElement('option');
    o.value = cur;
    o.textContent = `${cur.split('/').pop()} (this page's URL)`;
    menu.prepend(o);
  }
  menu.value = cur;
  menu.hidden = false;
}

// ---- chatting ---------------------------------------------------------------------------------

function addMessage(role, text) {
  const div = document.createElement('div');
  div.className = `msg ${role}`;
  const t = document.createElement('span');
  t.className = 'text';
  t.textContent = text;
  div.append(t);
  $('log').append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

async function send(text) {
  if (!engine || state.busy) return;
  state.busy = true;
  $('send').disabled = true;
  $('stop').disabled = false;
  generation = new AbortController();
  const signal = generation.signal;
  const opts = {
    maxTokens: Number($('max-tokens').value) || 80,
    temperature: Number($('temperature').value) || 0,
    seed: Number($('seed').value) || 0,
  };
  addMessage('user', text);
  const div = addMessage('assistant', chat ? '' : text);
  div.classList.add('streaming');
  const span = div.querySelector('.text');
  let reply = '', n = 0, t0 = 0;
  const onToken = (piece) => {
    if (!state.firstToken) {
      state.firstToken = { netBytes: state.net.bytes, blocksLoaded: state.blocks.loaded, ms: performance.now() - state.loadStarted };
    }
    if (n === 0) t0 = performance.now();
    n++;
    reply += piece;
    span.textContent = (chat ? '' : text) + reply;
    if (n > 1) state.tokensPerSec = (n - 1) / ((performance.now() - t0) / 1000);
    if (n % 4 === 0) update();
    div.scrollIntoView({ block: 'end' });
  };
  try {
    if (chat) {
      history.push({ role: 'user', content: text });
      const request = { messages: history, max_tokens: opts.maxTokens, temperature: opts.temperature, seed: opts.seed };
      const stream = chat === 'worker' ? engine.chatStream(request, { signal })
        : await chat.completions.create({ ...request, stream: true }, { signal });
      for await (const c of stream) if (c.choices[0].delta.content) onToken(c.choices[0].delta.content);
      history.push({ role: 'assistant', content: reply });
    } else {
      // a story model: each message is a new story that the model continues
      await engine.reset(); // a promise with the worker engine
      for await (const t of engine.generate(text, { ...opts, signal })) onToken(t.text);
    }
  } catch (err) {
    if (!isAbortError(err)) setStatus(`generation failed: ${err.message}`, 'bad');
  }
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${n} tokens · ${state.tokensPerSec.toFixed(1)} tok/s · ${engine.stack().nLoaded} blocks, ` +
    `${fmtBytes(engine.stack().loadedBytes)}`;
  div.append(meta);
  div.classList.remove('streaming');
  state.replies.push(reply);
  state.busy = false;
  $('send').disabled = false;
  $('stop').disabled = true;
  update();
}

// ---- wiring -----------------------------------------------------------------------------------

$('load-form').addEventListener('submit', (e) => {
  e.preventDefault();
  load(new URL($('model-url').value, location.href).href);
});
$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('prompt').value.trim() || $('prompt').placeholder.replace(/^Start a story: |…$/g, '');
  $('prompt').value = '';
  send(text);
});
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('chat-form').requestSubmit();
  }
});
$('model-menu').addEventListener('change', () => {
  $('model-url').value = $('model-menu').value;
  load($('model-url').value);
});
$('stop').addEventListener('click', () => generation?.abort());
$('budget').addEventListener('input', () => update());
$('budget').addEventListener('change', onBudgetChange);

window.demo = { state, load, send, blockSource, get engine() { return engine; }, get store() { return store; },
  get chat() { return chat; }, history };

$('model-url').value = new URL(params.get('model') ?? '/models/stories260K.bstk', location.href).href;
listModels();
update();
if (params.get('autoload') !== '0') load(new URL($('model-url').value, location.href).href);
