// A CPU worker thread: runs its share (a row, channel or token range) of the heavy ops on tensors
// shared with the main thread, so no data is copied between threads. With workerData.wasm it runs the
// WebAssembly SIMD kernels on the backend's shared WebAssembly.Memory, else the TypeScript ones.
import { parentPort, workerData } from 'node:worker_threads';
import { runTask, tsKernels, wasmKernels, type WasmSetup, type WorkerTask } from './tasks.js';

const setup = (workerData as { wasm?: WasmSetup } | null)?.wasm;
const kernels = setup ? wasmKernels(setup) : tsKernels;

parentPort!.on('message', (msg: { id: number; task: WorkerTask }) => {
  try {
    runTask(msg.task, kernels);
    parentPort!.postMessage({ id: msg.id });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
