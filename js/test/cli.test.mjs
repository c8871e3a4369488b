// ACCEPTANCE: `node js/bin/bitstack.mjs run FILE --budget SIZE --steps 60
// --temperature 0` prints exactly what `build/bitstack run` prints, at
// several budgets, for a bit-plane and an AVD .bstk, with the SIMD128 and
// the scalar wasm modules. And the CLI's flags, help and exit codes.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { fixtures, nativeMissing, runNative, runNode, wasmMissing } from './helpers.mjs';

const skip = nativeMissing() || wasmMissing();
const BUDGETS = ['150KB', '2.5bpw', '3bpw', '4bpw', '5bpw', '8.5bpw'];

describe('node run prints what the native run prints', { skip }, () => {
  const files = skip ? {} : fixtures();
  for (const kind of ['planes', 'avd']) {
    for (const wasm of ['simd128', 'scalar']) {
      it(`${kind} file, ${wasm} module, budgets ${BUDGETS.join(' ')}`, async () => {
        for (const budget of BUDGETS) {
          const args = ['run', files[kind], '--budget', budget, '--steps', '60', '--temperature', '0'];
          const [nat, js] = await Promise.all([runNative(args), runNode([...args, '--wasm', wasm])]);
          assert.equal(nat.code, 0, nat.stderr);
          assert.equal(js.code, 0, js.stderr);
          assert.ok(nat.stdout.length > 20, 'some text');
          assert.equal(js.stdout.toString(), nat.stdout.toString(), `${kind} ${wasm} ${budget}`);
          const stack = (s) => /^stack: .*$/m.exec(s)?.[0];
          assert.equal(stack(js.stderr), stack(nat.stderr), 'the same blocks and bytes');
          assert.match(js.stderr, new RegExp(`wasm ${wasm}`));
        }
      });
    }
  }

  it('samples the same tokens with temperature, top-p and a seed, and a prompt', async () => {
    for (const extra of [['--temperature', '0.8', '--top-p', '0.9', '--seed', '7'],
      ['--temperature', '1', '--top-k', '20', '--seed', '123', '--prompt', 'Lily and Tom']]) {
      const args = ['run', files.avd, '--budget', '3bpw', '--steps', '40', ...extra];
      const [nat, js] = await Promise.all([runNative(args), runNode(args)]);
      assert.equal(js.code, 0, js.stderr);
      assert.equal(js.stdout.toString(), nat.stdout.toString(), extra.join(' '));
    }
  });
});

describe('node CLI flags and exit codes', { skip }, () => {
  const files = skip ? {} : fixtures();
  it('has --help on every command (exit 0)', async () => {
    for (const args of [['--help'], ['run', '--help'], ['chat', '--help'], ['inspect', '--help'], ['bench', '--help']]) {
      const r = await runNode(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout.toString(), /usage: bitstack/);
      assert.match(r.stdout.toString(), /exit codes: 0 ok, 1 usage error, 2 failure/);
    }
  });

  it('exits 1 on usage errors, as the native CLI', async () => {
    for (const args of [[], ['frobnicate'], ['run'], ['run', files.planes, '--steps', 'x'],
      ['run', files.planes, '--budget', 'lots'], ['run', files.planes, '--bogus', '1'],
      ['run', files.planes, '--top-p', '2'], ['run', files.planes, '--wasm', 'avx']]) {
      const js = await runNode(args);
      assert.equal(js.code, 1, `${args.join(' ')}: ${js.stderr}`);
      assert.match(js.stderr, /bitstack: |usage: bitstack/);
      if (args[0] === 'run' && args[2] !== '--wasm') assert.equal((await runNative(args)).code, 1, args.join(' '));
    }
  });

  it('exits 2 on bad files, with the status name', async () => {
    const dir = tmpdir();
    const bytes = readFileSync(files.planes);
    const cut = join(dir, `cut-${process.pid}.bstk`);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
    const flip = join(dir, `flip-${process.pid}.bstk`);
    copyFileSync(files.planes, flip);
    const b = readFileSync(flip);
    b[b.length - 40] ^= 0xff;
    writeFileSync(flip, b);
    const cases = [
      [['run', '/nonexistent.bstk'], /BS_ERR_IO/],
      [['run', cut, '--steps', '2'], /inside block/],
      [['run', flip, '--steps', '2'], /checksum/],
      [['run', files.planes, '--budget', '1KB'], /below the resident size/],
      [['inspect', join(dir, 'nothing-here.bstk')], /BS_ERR_IO/],
    ];
    for (const [args, pattern] of cases) {
      const js = await runNode(args);
      assert.equal(js.code, 2, `${args.join(' ')}: ${js.stderr}`);
      assert.match(js.stderr, pattern);
    }
  });

  it('inspect tells the same sizes as the native inspect', async () => {
    const js = await runNode(['inspect', files.avd, '--json']);
    const nat = await runNative(['inspect', files.avd, '--json']);
    assert.equal(js.code, 0, js.stderr);
    const a = JSON.parse(js.stdout.toString()), b = JSON.parse(nat.stdout.toString());
    for (const k of ['version', 'file_size', 'n_tensors', 'n_entries', 'n_resident', 'resident_bytes', 'full_bytes', 'n_blocks', 'stacked_params']) {
      assert.equal(a[k], b[k], k);
    }
    assert.deepEqual(a.levels.map((l) => l.cumulative_bytes), b.levels.map((l) => l.cumulative_bytes));
    const text = await runNode(['inspect', files.avd]);
    assert.match(text.stdout.toString(), /compress\.method\s+avd/);
    assert.match(text.stdout.toString(), /stored perplexity curve/);
  });

  it('chat streams replies over stdin with a template', async () => {
    const tpl = join(tmpdir(), `tpl-${process.pid}.jinja`);
    writeFileSync(tpl, "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
    const r = await runNode(['chat', files.planes, '--budget', '5bpw', '--template', tpl, '--steps', '20', '--temperature', '0'],
      { input: 'Once upon a time\n/reset\nTom had a ball\n' });
    assert.equal(r.code, 0, r.stderr);
    // after /reset the second reply is what a fresh conversation gives
    const fresh = await runNode(['chat', files.planes, '--budget', '5bpw', '--template', tpl, '--steps', '20', '--temperature', '0'],
      { input: 'Tom had a ball\n' });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.ok(fresh.stdout.length > 5);
    assert.ok(r.stdout.toString().endsWith(fresh.stdout.toString()), r.stdout.toString());
    assert.ok(r.stdout.length > fresh.stdout.length + 5);
    const none = await runNode(['chat', files.planes], { input: 'hi\n' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no chat template/);
  });
});
