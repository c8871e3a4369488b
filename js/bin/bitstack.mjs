#!/usr/bin/env node
// bitstack (Node) - run, chat, inspect and bench .bstk models from a path or an
// http(s) URL, on the WebAssembly build of the core. Flags follow the
// native `bitstack` where they overlap. Exit codes: 0 ok, 1 usage error,
// 2 failure (bad file, network, ...), always with a message.
import process from 'node:process';

import { EXIT, Exit } from '../cli/args.js';
import { cmdBench } from '../cli/bench.js';
import { cmdChat } from '../cli/chat.js';
import { cmdInspect } from '../cli/inspect.js';
import { cmdRun } from '../cli/run.js';

const COMMANDS = [
  ['run', cmdRun, 'generate text from a prompt'],
  ['chat', cmdChat, 'chat over stdin (the model\'s chat template, or --template FILE)'],
  ['inspect', cmdInspect, 'header, metadata, sizes per level and stored perplexities of a .bstk'],
  ['bench', cmdBench, 'prefill and decode tokens/s, and f32 / q8 / q4 baselines from the same weights'],
];

function usage() {
  return 'usage: bitstack COMMAND [options]   (bitstack COMMAND --help for details)\n\n'
    + 'Runs .bstk models (paths or http(s) URLs) on the WebAssembly build of bitstack.\n\ncommands:\n'
    + COMMANDS.map(([name, , about]) => `  ${name.padEnd(8)} ${about}\n`).join('')
    + '\nexit codes: 0 ok, 1 usage error, 2 failure\n';
}

async function main(argv) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal };
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(usage());
    return EXIT.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return EXIT.OK;
  }
  const cmd = COMMANDS.find(([n]) => n === name);
  if (!cmd) {
    process.stderr.write(`bitstack: unknown command '${name}'\n\n${usage()}`);
    return EXIT.USAGE;
  }
  try {
    return await cmd[1](rest, io);
  } catch (err) {
    if (err instanceof Exit) return err.exitCode;
    process.stderr.write(`bitstack: ${err?.stack ?? err}\n`);
    return EXIT.FAIL;
  }
}

const code = await main(process.argv.slice(2));
// let stdout drain, then leave (a background download must not keep us here)
process.stdout.write('', () => process.exit(code));
