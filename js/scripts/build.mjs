// build.mjs - builds the wasm modules into dist/ (npm run build).
//
// Configures and builds ../wasm (CMake, clang --target=wasm32-wasi) twice:
// with SIMD128 kernels and without, in ../build-wasm-simd and
// ../build-wasm-scalar, and copies each bitstack.wasm into dist/. Then the
// threaded build (Emscripten -pthread, ../wasm/threads.cmake) in
// ../build-wasm-threads: its browser glue, Node glue (dist/node/), worker
// scripts and .wasm (one file: both glues load the same module). Needs
// cmake, clang-14, lld-14, wasi-libc and emscripten (scripts/setup.sh
// installs them).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(pkg);
if (!existsSync(join(root, 'wasm', 'CMakeLists.txt'))) {
  console.error('build: ../wasm is missing (build from the bitstack repository)');
  process.exit(1);
}

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (r.error || r.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed${r.error ? `: ${r.error.message}` : ''}`);
    process.exit(1);
  }
}

const ninja = spawnSync('ninja', ['--version']).status === 0;
mkdirSync(join(pkg, 'dist'), { recursive: true });
for (const [flavor, simd] of [['simd128', 'ON'], ['scalar', 'OFF']]) {
  const dir = join(root, `build-wasm-${flavor === 'simd128' ? 'simd' : 'scalar'}`);
  run('cmake', ['-S', join(root, 'wasm'), '-B', dir, ...(ninja ? ['-G', 'Ninja'] : []),
    '-DCMAKE_BUILD_TYPE=Release', `-DBS_SIMD=${simd}`]);
  run('cmake', ['--build', dir, '--target', 'bitstack_wasm']);
  copyFileSync(join(dir, 'bitstack.wasm'), join(pkg, 'dist', `bitstack-${flavor}.wasm`));
  console.log(`build: dist/bitstack-${flavor}.wasm`);
}

// The threaded build. Debian's emcc needs NODE_PATH for its own JS tools
// (../shared/TOOLCHAIN.md); its toolchain file ships with the package.
const toolchain = '/usr/share/emscripten/cmake/Modules/Platform/Emscripten.cmake';
if (!existsSync(toolchain) || spawnSync('emcc', ['--version']).status !== 0) {
  console.error('build: emscripten is missing (apt-get install emscripten) for the threaded module');
  process.exit(1);
}
const env = { ...process.env, NODE_PATH: [process.env.NODE_PATH, '/usr/share/nodejs'].filter(Boolean).join(':') };
const tdir = join(root, 'build-wasm-threads');
run('cmake', ['-S', join(root, 'wasm'), '-B', tdir, ...(ninja ? ['-G', 'Ninja'] : []), '-DCMAKE_BUILD_TYPE=Release',
  `-DCMAKE_TOOLCHAIN_FILE=${toolchain}`], env);
run('cmake', ['--build', tdir, '--target', 'bitstack_threads', 'bitstack_threads_node'], env);
// both glues load dist/bitstack-threads.wasm (runtime.js hands Node's its bytes): they must be one module
if (!readFileSync(join(tdir, 'bitstack-threads.wasm')).equals(readFileSync(join(tdir, 'node', 'bitstack-threads.wasm')))) {
  console.error('build: the browser and Node links of the threaded module differ; dist/ needs both .wasm files');
  process.exit(1);
}
mkdirSync(join(pkg, 'dist', 'node'), { recursive: true });
for (const f of ['bitstack-threads.mjs', 'bitstack-threads.worker.js', 'bitstack-threads.wasm',
  'node/bitstack-threads.js', 'node/bitstack-threads.worker.js', 'node/package.json']) {
  copyFileSync(join(tdir, f), join(pkg, 'dist', f));
}
console.log('build: dist/bitstack-threads.{mjs,worker.js,wasm}, dist/node/bitstack-threads.{js,worker.js}');
