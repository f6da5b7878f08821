// Devices by name. `auto` takes WebGPU when a hardware adapter answers, else the CPU path (plain
// TypeScript kernels on worker threads, which measured faster than gpu.js's webasm mode). A software
// adapter (Mesa's lavapipe) runs WebGPU on the CPU: `auto` skips it, `--device webgpu` still uses it.
// Backends load lazily so that `--device cpu` never touches dawn.node.
import { DeviceError, UsageError } from '../errors.js';
import type { Backend, DeviceName } from './types.js';
import { probeWebGpu, shutdownGpu, type AdapterReport } from './gpu-runtime.js';

export const DEVICE_CHOICES = ['auto', 'webgpu', 'wasm', 'cpu'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

export interface DeviceReport {
  name: DeviceName;
  ok: boolean;
  /** what initialised: adapter name, limits, threads */
  detail: string;
  /** why it did not initialise */
  reason?: string;
  adapter?: AdapterReport;
}

export function isSoftwareAdapter(a: AdapterReport): boolean {
  return a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(a.name ?? '');
}

export function parseDevice(value: string): DeviceChoice {
  if ((DEVICE_CHOICES as readonly string[]).includes(value)) return value as DeviceChoice;
  throw new UsageError(`unknown device '${value}': choose one of ${DEVICE_CHOICES.join(', ')}`);
}

export interface BackendOptions {
  /** CPU worker threads (default: all cores) */
  threads?: number;
}

/** The device a choice means here: `auto` is webgpu on a hardware adapter, else cpu. */
export async function resolveDevice(choice: DeviceChoice): Promise<DeviceName> {
  if (choice !== 'auto') return choice;
  const a = await probeWebGpu();
  return a.ok && !isSoftwareAdapter(a) ? 'webgpu' : 'cpu';
}

export async function createBackend(choice: DeviceChoice, opts: BackendOptions = {}): Promise<Backend> {
  const name = await resolveDevice(choice);
  if (name === 'cpu') {
    const { createCpuBackend } = await import('./cpu/cpu-backend.js');
    return createCpuBackend(opts.threads);
  }
  if (name === 'webgpu') {
    const a = await probeWebGpu();
    if (!a.ok) throw new DeviceError(`--device webgpu: ${a.reason}; or use --device cpu`);
  }
  const { createGpuJsBackend } = await import('./gpujs/gpujs-backend.js');
  return createGpuJsBackend(name === 'webgpu' ? 'webgpu' : 'webasm');
}

/** Tries every device and says what initialised and why the others did not. */
export async function probeDevices(): Promise<DeviceReport[]> {
  const reports: DeviceReport[] = [];
  const a = await probeWebGpu();
  if (a.ok) {
    const l = a.limits!;
    const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
    reports.push({
      name: 'webgpu',
      ok: true,
      detail: `${a.name}${isSoftwareAdapter(a) ? ' (software rasteriser on the CPU; auto skips it)' : ''}; max storage binding ${mib(l.maxStorageBufferBindingSize)}, max buffer ${mib(l.maxBufferSize)}, ${l.maxStorageBuffersPerShaderStage} storage buffers per stage`,
      adapter: a,
    });
  } else {
    reports.push({ name: 'webgpu', ok: false, detail: '', reason: a.reason });
  }
  for (const name of ['wasm', 'cpu'] as const) {
    try {
      const be = await createBackend(name);
      reports.push({ name, ok: true, detail: be.description });
      await be.dispose();
    } catch (err) {
      reports.push({ name, ok: false, detail: '', reason: (err as Error).message });
    }
  }
  await shutdownGpu();
  return reports;
}

export { shutdownGpu };
