// The workgroup-size patch (src/backend/gpujs/workgroup-size.ts) on a stand-in for gpu.js's WebGPU
// kernel class: the WGSL attribute and the workgroupSize the dispatch reads change together, for wide
// 2-D/3-D and for 1-D kernels, wide 3-D grids short in y folding their spare rows into z; narrow
// kernels and WGSL in any other form keep gpu.js's own sizes.
// (Every webgpu test in the suite runs with the patch for real.)
import test from 'ava';
import { installWorkgroupSizes } from '../../src/backend/gpujs/workgroup-size.js';

class FakeKernel {
  workgroupSize: number[] = [];
  constructor(public output: number[], private readonly form: 'gpujs' | 'other' = 'gpujs') {}
  assembleWGSL(this: FakeKernel): string {
    this.workgroupSize = this.output.length === 1 ? [64, 1, 1] : [8, 8, 1];
    const attr = this.form === 'gpujs' ? `@workgroup_size(${this.workgroupSize.join(', ')})` : `@workgroup_size(${this.workgroupSize.join(',')})`;
    return `${attr}\nfn main() {}`;
  }
}

test('workgroup sizes: attribute and dispatch size change together, or not at all', (t) => {
  installWorkgroupSizes(FakeKernel as unknown as { prototype: Record<string, unknown> }, { wide: [32, 8], flat: 256 });
  const wide = new FakeKernel([256, 100, 3]);
  t.true(wide.assembleWGSL().startsWith('@workgroup_size(32, 8, 1)'));
  t.deepEqual(wide.workgroupSize, [32, 8, 1]);
  const flat = new FakeKernel([5000]);
  t.true(flat.assembleWGSL().startsWith('@workgroup_size(256, 1, 1)'));
  t.deepEqual(flat.workgroupSize, [256, 1, 1]);
  const narrow = new FakeKernel([8, 1000]); // x extent below 32: gpu.js's 8×8 stays
  t.true(narrow.assembleWGSL().startsWith('@workgroup_size(8, 8, 1)'));
  t.deepEqual(narrow.workgroupSize, [8, 8, 1]);
  // wide 3-D grids shorter than the workgroup in y get the spare rows in z; narrow ones stay 8×8
  for (const [out, size] of [[[256, 2, 4096], [32, 2, 4]], [[16, 2, 4096], [8, 8, 1]], [[256, 3, 9], [32, 2, 4]], [[256, 1, 9], [32, 1, 8]], [[16, 17, 9], [8, 8, 1]]] as Array<[number[], number[]]>) {
    const k = new FakeKernel(out);
    t.true(k.assembleWGSL().startsWith(`@workgroup_size(${size.join(', ')})`), out.join('x'));
    t.deepEqual(k.workgroupSize, size);
  }
  const other = new FakeKernel([256, 100], 'other'); // WGSL this patch does not know: untouched
  t.is(other.assembleWGSL(), '@workgroup_size(8,8,1)\nfn main() {}');
  t.deepEqual(other.workgroupSize, [8, 8, 1]);
  // back to gpu.js's own sizes for kernels built after the call
  installWorkgroupSizes(FakeKernel as unknown as { prototype: Record<string, unknown> }, { wide: [8, 8], flat: 64 });
  const again = new FakeKernel([256, 100]);
  t.true(again.assembleWGSL().startsWith('@workgroup_size(8, 8, 1)'));
  t.deepEqual(again.workgroupSize, [8, 8, 1]);
});
