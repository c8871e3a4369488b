// run.js - `bitstack run`: generate text from a prompt (as the native
// `bitstack run`: the generated text alone on stdout, facts on stderr).

import { parseArgs } from './args.js';
import { fail, LOAD_OPTS, openModel, printSpeed, printStack, writePiece } from './common.js';

const SPEC = {
  usage: 'bitstack run MODEL [options]',
  about: 'Generates text. MODEL is a .bstk path or an http(s) URL. The generated text alone goes to stdout;\n'
    + 'the stack, download, speeds and memory go to stderr.',
  opts: [
    ...LOAD_OPTS,
    { name: 'prompt', kind: 'str', metavar: 'TEXT', help: 'text to continue (default: start from BOS)' },
    { name: 'steps', kind: 'int', metavar: 'N', help: 'tokens to generate (default 256)', range: [1, 1e7], value: 256 },
    { name: 'temperature', kind: 'float', metavar: 'T', help: '0 = greedy (default 1.0)', range: [0, 100], value: 1 },
    { name: 'top-k', kind: 'int', metavar: 'K', help: 'keep the K most likely tokens, 0 = off (default 0)', range: [0, 1e7], value: 0 },
    { name: 'top-p', kind: 'float', metavar: 'P', help: 'nucleus sampling, 1 = off (default 0.9)', range: [1e-6, 1], value: 0.9 },
    { name: 'seed', kind: 'u64', metavar: 'S', help: 'random seed (default 42)', value: 42n },
    { name: 'ctx', kind: 'int', metavar: 'N', help: 'context length (default: min(model, 2048))', range: [1, 2 ** 24] },
  ],
  positionals: [1, 1],
  epilog: 'example:\n  bitstack run https://example.org/stories260K.bstk --budget 3.5bpw --steps 60 --temperature 0',
};

export async function cmdRun(argv, io) {
  const { values, positionals } = parseArgs(SPEC, argv, io);
  const engine = await openModel(io, positionals[0], values, io.signal);
  try {
    printStack(io, engine);
    const ids = engine.tokenize(values.prompt ?? '', { bos: true });
    if (ids.length === 0) { // a model without BOS and an empty prompt
      io.stderr.write('bitstack: the model has no BOS token: give a --prompt\n');
      return 1;
    }
    const stats = {};
    try {
      const tokens = engine.generate(ids, {
        maxTokens: values.steps, temperature: values.temperature, topK: values['top-k'], topP: values['top-p'],
        seed: values.seed, signal: io.signal, stats,
      });
      for await (const t of tokens) writePiece(io.stdout, t.bytes);
    } catch (err) {
      io.stdout.write('\n');
      return fail(io, 'generation', err);
    }
    io.stdout.write('\n');
    printSpeed(io, engine, stats);
    return 0;
  } finally {
    await engine.close();
  }
}
