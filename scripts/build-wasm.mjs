// Builds the WebAssembly SIMD kernels (AssemblyScript sources `kernels/<op>/*.as`) into
// dist/kernels/<op>/*.wasm. Run by `npm run build` (and so by `npm ci` through `prepare`) before tsc.
// Plain .mjs, not .ts, so that it runs before anything is compiled. The sources use the `.as`
// extension so that tsc, which compiles every .ts under kernels/, never sees them; asc only opens
// `.ts` entries, so its readFile serves `<name>.ts` from `<name>.as`.
//
// Flags: the memory is imported and shared (the CPU backend's tensors live in one shared
// WebAssembly.Memory that every worker thread's instance sees; maximum 65536 pages = 4 GiB must match
// the JS side, kernels/wasm-simd.ts); the stub runtime because the kernels never allocate.
import asc from 'assemblyscript/asc';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const KERNELS = ['kernels/linear/gemm.as', 'kernels/selective-scan/scan.as', 'kernels/conv1d/conv.as'];

let failed = false;
for (const src of KERNELS) {
  const entry = src.replace(/\.as$/, '.ts');
  const outFile = join('dist', src.replace(/\.as$/, '.wasm'));
  mkdirSync(join(root, dirname(outFile)), { recursive: true });
  const { error, stderr } = await asc.main([
    entry, '-o', outFile, '-O3', '--noAssert', '--runtime', 'stub',
    '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
    '--enable', 'simd,threads',
  ], {
    readFile(name, baseDir) {
      const p = join(baseDir, name);
      if (p.endsWith('.ts') && !existsSync(p) && existsSync(p.replace(/\.ts$/, '.as'))) return readFileSync(p.replace(/\.ts$/, '.as'), 'utf8');
      return existsSync(p) ? readFileSync(p, 'utf8') : null;
    },
    writeFile(name, contents, baseDir) {
      writeFileSync(join(baseDir, name), contents);
    },
  });
  if (error) {
    console.error(`build-wasm: ${src} (reported as ${entry}) failed: ${error.message}\n${stderr.toString()}`);
    failed = true;
  } else {
    console.error(`build-wasm: ${src} → ${outFile}`);
  }
}
if (failed) process.exit(1);
