// run_wasi.mjs - runs a WASI command module (a C test built for wasm32-wasi)
// under node:wasi; ctest uses it as CMAKE_CROSSCOMPILING_EMULATOR.
//
//   node run_wasi.mjs MODULE.wasm [ARGS...]
//
// Directories listed in BS_WASI_DIRS (separated by ':') are preopened at
// their own absolute paths, so paths compiled into the tests (the source
// tree, ../shared, the build directory) resolve unchanged; the current
// directory is preopened as ".". The exit code is the module's.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import process from 'node:process';
import { WASI } from 'node:wasi';

const [modulePath, ...args] = process.argv.slice(2);
if (!modulePath) {
  process.stderr.write('usage: node run_wasi.mjs MODULE.wasm [ARGS...]\n');
  process.exit(2);
}
const preopens = { '.': process.cwd() };
for (const dir of (process.env.BS_WASI_DIRS ?? '').split(':').filter(Boolean)) {
  preopens[resolve(dir)] = resolve(dir);
}
const wasi = new WASI({ version: 'preview1', args: [modulePath, ...args], env: {}, preopens, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(modulePath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
