// build.mjs - builds the two wasm modules into dist/ (npm run build).
//
// Configures and builds ../wasm (CMake, clang --target=wasm32-wasi) twice:
// with SIMD128 kernels and without, in ../build-wasm-simd and
// ../build-wasm-scalar, and copies each bitstack.wasm into dist/. Needs
// cmake, clang-14, lld-14 and wasi-libc (scripts/setup.sh installs them).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(pkg);
if (!existsSync(join(root, 'wasm', 'CMakeLists.txt'))) {
  console.error('build: ../wasm is missing (build from the bitstack repository)');
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
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
