// A CPU worker thread: runs its share (a row range or a channel range) of the heavy ops on tensors
// that live in SharedArrayBuffers, so no data is copied between threads.
import { parentPort } from 'node:worker_threads';
import { gemmABt } from '../../../kernels/linear/cpu.js';
import { selectiveScan } from '../../../kernels/selective-scan/cpu.js';
import type { WorkerTask } from './tasks.js';
import { runTask } from './tasks.js';

parentPort!.on('message', (msg: { id: number; task: WorkerTask }) => {
  try {
    runTask(msg.task, { gemmABt, selectiveScan });
    parentPort!.postMessage({ id: msg.id });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
