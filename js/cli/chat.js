// chat.js - `bitstack chat`: a conversation over stdin, one user message
// per line, replies streamed to stdout; "/reset" starts over. Uses the
// library's chat.completions.create with the file's Jinja chat template
// (or --template FILE).

import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

import { Chat } from '../src/index.js';
import { EXIT, Exit, parseArgs } from './args.js';
import { fail, LOAD_OPTS, openModel, printStack } from './common.js';

const SPEC = {
  usage: 'bitstack chat MODEL [options]',
  about: 'Chats over stdin: each line is a user message; replies stream to stdout.\n'
    + 'The model needs a chat template (its own, or --template FILE). /reset starts over.',
  opts: [
    ...LOAD_OPTS,
    { name: 'system', kind: 'str', metavar: 'TEXT', help: 'system prompt (default: none)' },
    { name: 'template', kind: 'str', metavar: 'FILE', help: 'a Jinja chat template to use instead of the file\'s' },
    { name: 'steps', kind: 'int', metavar: 'N', help: 'most tokens per reply (default 512)', range: [1, 1e7], value: 512 },
    { name: 'temperature', kind: 'float', metavar: 'T', help: '0 = greedy (default 0.7)', range: [0, 100], value: 0.7 },
    { name: 'top-p', kind: 'float', metavar: 'P', help: 'nucleus sampling, 1 = off (default 0.9)', range: [1e-6, 1], value: 0.9 },
    { name: 'seed', kind: 'int', metavar: 'S', help: 'random seed (default 42)', range: [0, Number.MAX_SAFE_INTEGER], value: 42 },
    { name: 'ctx', kind: 'int', metavar: 'N', help: 'context length (default: min(model, 2048))', range: [1, 2 ** 24] },
  ],
  positionals: [1, 1],
};

export async function cmdChat(argv, io) {
  const { values, positionals } = parseArgs(SPEC, argv, io);
  let template;
  if (values.template) {
    try {
      template = await readFile(values.template, 'utf8');
    } catch (err) {
      io.stderr.write(`bitstack: cannot read the template ${values.template}: ${err.message}\n`);
      throw new Exit(EXIT.FAIL);
    }
  }
  const engine = await openModel(io, positionals[0], values, io.signal);
  try {
    printStack(io, engine);
    const chat = new Chat(engine, { template });
    if (!chat.template) {
      io.stderr.write('bitstack: the model has no chat template (give one with --template FILE)\n');
      return EXIT.FAIL;
    }
    const base = values.system ? [{ role: 'system', content: values.system }] : [];
    let messages = [...base];
    const lines = createInterface({ input: io.stdin, terminal: false });
    if (io.stdin.isTTY) io.stderr.write('> ');
    for await (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (line === '/reset') {
        messages = [...base];
      } else if (line) {
        messages.push({ role: 'user', content: line });
        let reply = '';
        try {
          const stream = await chat.completions.create({
            messages, stream: true, max_tokens: values.steps, temperature: values.temperature,
            top_p: values['top-p'], seed: values.seed,
          }, { signal: io.signal });
          for await (const chunk of stream) {
            const piece = chunk.choices[0].delta.content ?? '';
            reply += piece;
            io.stdout.write(piece);
          }
        } catch (err) {
          io.stdout.write('\n');
          return fail(io, 'chat', err);
        }
        io.stdout.write('\n');
        messages.push({ role: 'assistant', content: reply });
      }
      if (io.stdin.isTTY) io.stderr.write('> ');
    }
    return EXIT.OK;
  } finally {
    await engine.close();
  }
}
