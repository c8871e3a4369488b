// chat.completions.create: request checks, Jinja templates (the ChatML one
// of the bundled HF fixture), streaming and non-streaming replies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Chat, Engine, renderTemplate, validateRequest } from '../src/index.js';
import { fixtures, nativeMissing, ROOT, wasmMissing } from './helpers.mjs';

const CHATML = JSON.parse(readFileSync(join(ROOT, 'tests/data/hf/llama_f32/tokenizer_config.json'), 'utf8')).chat_template;
const LLAMA2 = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"
  + "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";

describe('templates', () => {
  it('renders ChatML with the generation prompt', async () => {
    const text = await renderTemplate(CHATML, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    assert.equal(text, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const noGen = await renderTemplate(CHATML, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false });
    assert.equal(noGen, '<|im_start|>user\nHi<|im_end|>\n');
  });
  it('passes bos_token and eos_token', async () => {
    const text = await renderTemplate(LLAMA2, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }],
      { bosToken: '<s>', eosToken: '</s>' });
    assert.equal(text, '<s>[INST] a [/INST] b </s>[INST] c [/INST]');
  });
  it('reports template errors as BS_ERR_FORMAT', async () => {
    await assert.rejects(renderTemplate('{% for %}', []), { code: 'BS_ERR_FORMAT' });
  });
  it('uses the jinja module it is given (a worker cannot import it by name)', async () => {
    const calls = [];
    const jinja = { Template: class { constructor(src) { calls.push(src); } render(ctx) { return `${ctx.messages.length}:${ctx.bos_token}`; } } };
    assert.equal(await renderTemplate('T', [{ role: 'user', content: 'x' }], { bosToken: '<s>', jinja }), '1:<s>');
    assert.deepEqual(calls, ['T']);
  });
});

describe('requests', () => {
  const messages = [{ role: 'user', content: 'Hi' }];
  it('fills the defaults', () => {
    const r = validateRequest({ messages });
    assert.equal(r.stream, false);
    assert.equal(r.temperature, 1);
    assert.equal(r.top_p, 1);
    assert.equal(r.seed, 42);
  });
  it('rejects unknown fields and bad values', () => {
    for (const bad of [{ messages, n: 2 }, { messages, max_tokens: 0 }, { messages, max_tokens: 1.5 }, { messages, temperature: -1 },
      { messages, top_p: 0 }, { messages, stream: 'yes' }, { messages: [] }, { messages: [{ role: 'robot', content: 'x' }] },
      { messages: [{ role: 'user', content: 'x', name: 'bob' }] }, { messages: [{ role: 'user' }] }, null]) {
      assert.throws(() => validateRequest(bad), { code: 'BS_ERR_INVALID_ARG' }, JSON.stringify(bad));
    }
  });
});

const skip = nativeMissing() || wasmMissing();
describe('chat.completions.create', { skip }, () => {
  let engine, chat;
  const tpl = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
  before(async () => {
    engine = await Engine.open(fixtures().planes, { budget: '5bpw' });
    chat = new Chat(engine, { template: tpl });
  });
  after(async () => engine?.close());

  it('answers in the OpenAI shape; streaming gives the same text', async () => {
    const req = { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0 };
    const r = await chat.completions.create(req);
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok(r.choices[0].message.content.length > 0);
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    let text = '', last = null, first = null;
    for await (const chunk of await chat.completions.create({ ...req, stream: true })) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      first ??= chunk;
      text += chunk.choices[0].delta.content ?? '';
      last = chunk;
    }
    assert.equal(first.choices[0].delta.role, 'assistant');
    assert.equal(text, r.choices[0].message.content);
    assert.equal(last.choices[0].finish_reason, r.choices[0].finish_reason);
  });

  it('reuses the KV cache for a shared prefix and gives the same reply as from scratch', async () => {
    const m1 = [{ role: 'user', content: 'Tom had a red ball' }];
    const a = await chat.completions.create({ messages: m1, max_tokens: 12, temperature: 0 });
    const m2 = [...m1, a.choices[0].message, { role: 'user', content: 'He was happy' }];
    const cont = await chat.completions.create({ messages: m2, max_tokens: 12, temperature: 0 });
    const fresh = new Chat(engine, { template: tpl });
    engine.reset();
    const scratch = await fresh.completions.create({ messages: m2, max_tokens: 12, temperature: 0 });
    assert.equal(cont.choices[0].message.content, scratch.choices[0].message.content);
  });

  it('aborts with an AbortError and stays usable', async () => {
    const ac = new AbortController();
    const stream = await chat.completions.create({ messages: [{ role: 'user', content: 'Lily' }], max_tokens: 50, stream: true }, { signal: ac.signal });
    let n = 0;
    await assert.rejects((async () => {
      for await (const _ of stream) if (++n === 3) ac.abort(); // eslint-disable-line no-unused-vars
    })(), { name: 'AbortError' });
    const r = await chat.completions.create({ messages: [{ role: 'user', content: 'Lily' }], max_tokens: 5, temperature: 0 });
    assert.ok(r.choices[0].message.content.length > 0);
  });

  it('needs a template', async () => {
    await assert.rejects(new Chat(engine).completions.create({ messages: [{ role: 'user', content: 'x' }] }), { code: 'BS_ERR_UNSUPPORTED' });
  });
});
