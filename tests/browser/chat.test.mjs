// A model with a chat template in the browser (issue 5): stories260K
// compressed with `--chat-template tests/data/chatml.jinja`, served by nginx.
// - main thread: the demo's Chat (js/src/chat.js, @huggingface/jinja through
//   the page's import map) renders the conversation as ChatML, and two turns
//   at temperature 0 print what the native `bitstack chat` and the Node CLI
//   print for the same two lines;
// - Web Worker (?worker=1): the worker's chatStream (web/worker.js) cannot
//   use the page's import map, so it imports @huggingface/jinja by the URL
//   the page resolved; the same two turns print the same text.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { chatFixture, runNative, runNode } from '../../js/test/helpers.mjs';
import { ask, browserMissing, getState, openBrowser, startNginx, waitState } from './helpers.mjs';

const skip = browserMissing();
const TURNS = ['Once upon a time', 'Tom had a red ball'];
const STEPS = 30;

/** The ChatML text of a conversation, with the generation prompt (what core/src/chat.c renders for this family). */
const chatml = (messages) => messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';

describe('a chat model in chromium', { skip }, () => {
  let nginx, file, native;
  before(async () => {
    file = chatFixture();
    nginx = await startNginx({ models: { c: file } });
    // each stdin line is a user turn; each reply ends with a newline
    const args = ['chat', file, '--temperature', '0', '--steps', String(STEPS)];
    const input = `${TURNS.join('\n')}\n`;
    const r = await runNative(args, { input });
    assert.equal(r.code, 0, r.stderr);
    native = r.stdout.toString();
    const js = await runNode(args, { input });
    assert.equal(js.code, 0, js.stderr);
    assert.equal(js.stdout.toString(), native, 'the Node CLI and the native CLI disagree');
    assert.ok(native.split('\n').length > TURNS.length, native);
  });
  after(async () => nginx?.stop());

  for (const worker of [false, true]) {
    it(worker ? 'in a Web Worker: chatStream imports the template engine by URL; the native replies'
      : 'on the main thread: the ChatML prompt, and the native CLI\'s replies', async () => {
      const b = await openBrowser();
      try {
        const { page } = b;
        await page.goto(`${nginx.url}/demo/?model=/models/c.bstk&sw=0${worker ? '&worker=1' : ''}`);
        await waitState(page, (s) => s.phase === 'complete');
        assert.match(await page.textContent('#status'), /chatting with the file's template/);
        const replies = [];
        for (const t of TURNS) replies.push(await ask(page, t, { maxTokens: STEPS }));
        console.log(`# ${worker ? 'worker' : 'main thread'}: ${JSON.stringify(replies)}`);
        assert.equal((await getState(page)).replies.length, TURNS.length);
        assert.equal(replies.map((r) => `${r}\n`).join(''), native);
        if (!worker) {
          // the prompt the page renders for the next turn: the whole conversation in ChatML
          const history = await page.evaluate(() => window.demo.history);
          assert.deepEqual(history.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
          const prompt = await page.evaluate(() => window.demo.chat.render([...window.demo.history, { role: 'user', content: 'x' }]));
          assert.equal(prompt, chatml([...history, { role: 'user', content: 'x' }]));
        } else {
          assert.match(await page.textContent('#facts'), /in a Web Worker/);
        }
        assert.doesNotMatch(await page.textContent('#status'), /failed/);
        assert.deepEqual(b.errors, []);
      } finally {
        await b.close();
      }
    });
  }
});
