// chat.js - chat.completions.create in the OpenAI shape, over an Engine.
//
//   const chat = new Chat(engine);
//   const r = await chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64 });
//   r.choices[0].message.content
//   for await (const chunk of await chat.completions.create({ messages, stream: true }))
//     process.stdout.write(chunk.choices[0].delta.content ?? '');
//
// The conversation is rendered with the file's own Jinja chat template
// (metadata chat.template; or `template` given here) by @huggingface/jinja,
// with bos_token and eos_token defined, and tokenized with special tokens
// matched. @huggingface/jinja is imported on first use, not statically:
// its bare specifier resolves in Node, bundlers and pages with an import
// map, but a module worker gets no import map, and a static import would
// make this whole module fail to load there. Such callers pass the module
// itself (`jinja`; web/worker.js imports it by URL).
// The KV cache is reused across calls: only the tokens past the longest
// prefix it already holds are evaluated. Unknown request fields are
// rejected (BS_ERR_INVALID_ARG), so a typo never silently does nothing.

import { BitstackError, throwIfAborted } from './errors.js';

const FIELDS = new Set(['messages', 'stream', 'max_tokens', 'temperature', 'top_p', 'seed', 'model']);
const ROLES = new Set(['system', 'user', 'assistant']);

const invalid = (msg) => new BitstackError('BS_ERR_INVALID_ARG', `chat.completions.create: ${msg}`);

/**
 * @typedef {object} ChatRequest
 * @property {{role: 'system'|'user'|'assistant', content: string}[]} messages
 * @property {boolean} [stream=false] return an async iterator of chunks
 * @property {number} [max_tokens] default: until the context is full
 * @property {number} [temperature=1] 0 = greedy
 * @property {number} [top_p=1] nucleus sampling
 * @property {number} [seed=42] sampler seed (the same request gives the same reply)
 * @property {string} [model] echoed back; the engine's model answers
 */

/** Checks a request; returns it with defaults filled in. */
export function validateRequest(req) {
  if (!req || typeof req !== 'object') throw invalid('expects a request object');
  for (const k of Object.keys(req)) if (!FIELDS.has(k)) throw invalid(`unknown field "${k}"`);
  const { messages } = req;
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('messages must be a non-empty array');
  messages.forEach((m, i) => {
    if (!m || !ROLES.has(m.role) || typeof m.content !== 'string') {
      throw invalid(`messages[${i}] needs a role (system, user, assistant) and a string content`);
    }
    for (const k of Object.keys(m)) if (k !== 'role' && k !== 'content') throw invalid(`messages[${i}]: unknown field "${k}"`);
  });
  const num = (k, lo, hi, dflt, integer = false) => {
    const v = req[k] ?? dflt;
    if (v === undefined) return v;
    if (typeof v !== 'number' || !(v >= lo && v <= hi) || (integer && !Number.isInteger(v))) {
      throw invalid(`${k} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}]`);
    }
    return v;
  };
  if (req.stream !== undefined && typeof req.stream !== 'boolean') throw invalid('stream must be a boolean');
  return {
    messages,
    stream: req.stream ?? false,
    max_tokens: num('max_tokens', 1, 2 ** 31 - 1, undefined, true),
    temperature: num('temperature', 0, 100, 1),
    top_p: num('top_p', 1e-6, 1, 1),
    seed: num('seed', 0, Number.MAX_SAFE_INTEGER, 42, true),
    model: req.model,
  };
}

/**
 * The Jinja engine: the module given, or @huggingface/jinja by its package
 * name (a failure to resolve it says what to pass instead).
 * @param {{Template: Function}} [jinja]
 */
async function jinjaModule(jinja) {
  if (jinja) return jinja;
  try {
    return await import('@huggingface/jinja');
  } catch (err) {
    throw new BitstackError('BS_ERR_UNSUPPORTED', `chat templates need @huggingface/jinja, which cannot be imported here (${err.message}); ` +
      'pass the module as the jinja option', { cause: err });
  }
}

/**
 * Renders messages with a Jinja chat template.
 * @param {string} template
 * @param {object[]} messages
 * @param {{bosToken?: string, eosToken?: string, addGenerationPrompt?: boolean, jinja?: {Template: Function}}} [opts]
 *   jinja: the @huggingface/jinja module, where its package name does not resolve (default: imported by name)
 * @returns {Promise<string>}
 */
export async function renderTemplate(template, messages, { bosToken = '', eosToken = '', addGenerationPrompt = true, jinja } = {}) {
  const { Template } = await jinjaModule(jinja);
  try {
    return new Template(template).render({
      messages, add_generation_prompt: addGenerationPrompt, bos_token: bosToken, eos_token: eosToken,
    });
  } catch (err) {
    throw new BitstackError('BS_ERR_FORMAT', `chat template: ${err.message}`, { cause: err });
  }
}

/**
 * @typedef {object} ChatOptions
 * @property {string} [template] a Jinja template instead of the file's (default: metadata chat.template)
 * @property {{Template: Function}} [jinja] the @huggingface/jinja module (default: imported by its package name on
 *   first use; pass it where that name does not resolve, as in a module worker)
 */

export class Chat {
  /**
   * @param {import('./engine.js').Engine} engine
   * @param {ChatOptions} [options]
   */
  constructor(engine, options = {}) {
    this.engine = engine;
    this.template = options.template ?? engine.head.chatTemplate;
    this.jinja = options.jinja ?? null;
    this.cached = []; // token ids the KV cache holds, in order
    this.busy = false;
    /** The OpenAI-shaped entry point. */
    this.completions = { create: (req, opts) => this.create(req, opts) };
  }

  /**
   * The prompt text for messages (with the generation prompt).
   * @returns {Promise<string>}
   */
  async render(messages) {
    if (!this.template) {
      throw new BitstackError('BS_ERR_UNSUPPORTED', 'the model has no chat template (pass one: new Chat(engine, {template}))');
    }
    const info = this.engine.info();
    return renderTemplate(this.template, messages, { bosToken: info.bosToken, eosToken: info.eosToken, jinja: this.jinja });
  }

  /** Prompt token ids: SentencePiece models get BOS unless the template wrote it. */
  async #promptIds(messages) {
    const text = await this.render(messages);
    const info = this.engine.info();
    const bos = info.tokenizerKind === 'spm' && !(info.bosToken && text.startsWith(info.bosToken));
    return Array.from(this.engine.tokenize(text, { bos, special: true }));
  }

  /**
   * @param {ChatRequest} request
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<object|AsyncIterable<object>>} a chat.completion, or (stream) chat.completion.chunk objects
   */
  async create(request, { signal } = {}) {
    const req = validateRequest(request);
    throwIfAborted(signal);
    const meta = {
      id: `chatcmpl-${Math.random().toString(16).slice(2, 14)}`,
      created: Math.floor(Date.now() / 1000),
      model: req.model ?? this.engine.head.meta.get('general.name')?.value ?? 'bitstack',
    };
    if (req.stream) return this.#stream(req, meta, signal);
    let content = '';
    let finish = 'length', usage = null;
    for await (const part of this.#run(req, signal)) {
      if (part.text) content += part.text;
      if (part.done) ({ finish, usage } = part);
    }
    return {
      ...meta, object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish, logprobs: null }],
      usage,
    };
  }

  async *#stream(req, meta, signal) {
    const chunk = (delta, finish = null) => ({
      ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    });
    yield chunk({ role: 'assistant', content: '' });
    for await (const part of this.#run(req, signal)) {
      if (part.done) yield chunk({}, part.finish);
      else if (part.text) yield chunk({ content: part.text });
    }
  }

  /** Evaluates what the cache lacks, then streams {text} parts and a final {done}. */
  async *#run(req, signal) {
    if (this.busy) throw new BitstackError('BS_ERR_STATE', 'one completion at a time per Chat');
    this.busy = true;
    const engine = this.engine;
    try {
      const ids = await this.#promptIds(req.messages);
      const ctx = engine.info().seqLen > 0 ? Math.min(engine.info().seqLen, 2048) : 2048;
      if (ids.length >= ctx) throw new BitstackError('BS_ERR_RANGE', `the conversation (${ids.length} tokens) fills the context`);
      // keep the longest prefix the KV cache holds; evaluate at least one token
      let same = 0;
      const have = Math.min(this.cached.length, engine.position);
      while (same < have && same < ids.length - 1 && this.cached[same] === ids[same]) same++;
      engine.rewind(same);
      const stats = {};
      const generated = [];
      const maxTokens = req.max_tokens ?? ctx - ids.length;
      for await (const t of engine.generate(ids.slice(same), {
        maxTokens, temperature: req.temperature, topP: req.top_p, seed: req.seed, signal, stats,
      })) {
        generated.push(t.id);
        yield { text: t.text };
      }
      this.cached = ids.concat(generated).slice(0, engine.position);
      yield {
        done: true, finish: stats.reason,
        usage: { prompt_tokens: ids.length, completion_tokens: generated.length, total_tokens: ids.length + generated.length },
      };
    } catch (err) {
      this.cached = [];
      engine.reset();
      throw err;
    } finally {
      this.busy = false;
    }
  }
}
