// Back-pressure for gpu.js pipeline calls on one WebGPU device (the training engine's and the inference
// backend's). Pipeline calls resolve at submit, so without a wait now and then the queue, and the host
// memory it pins, grows without bound. Every `every` calls the gate waits: for the work queued up to
// the previous wait, not for all of it, so the GPU keeps up to `every` calls in hand while the host
// records the next ones. Waiting for everything instead (`overlap` false) left the GPU idle at every
// wait: 11–24 % of a training step at 2^17 on the H100 (docs/benchmarks.md, "overlapped queue drains").

interface Device { queue: { onSubmittedWorkDone(): Promise<void> } }

export class QueueGate {
  private calls = 0;
  /** work queued up to the last wait, finished */
  private queued: Promise<void> | null = null;

  constructor(private readonly every: number, private readonly overlap = true) {}

  /** Counts `n` submitted calls and waits where one is due (not before the device is known). */
  async counted(n: number, device: Device | null): Promise<void> {
    this.calls += n;
    if (this.calls < this.every || !device) return;
    this.calls = 0;
    if (!this.overlap) return device.queue.onSubmittedWorkDone();
    const before = this.queued;
    const now = device.queue.onSubmittedWorkDone();
    now.catch(() => undefined); // a device error surfaces where it is awaited: the next wait, or the caller's own
    this.queued = now;
    if (before) await before;
  }

  /** Drops the pending wait (the caller is about to wait for the whole queue). */
  reset(): void {
    this.queued = null;
  }
}
