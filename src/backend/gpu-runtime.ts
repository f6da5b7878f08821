// The one place that loads gpu.js and dawn.node (the `webgpu` npm package). Everything else in
// src/backend/ asks this module for a GPU instance; kernels/ never imports gpu.js.
//
// WebGPU under Node: dawn.node provides `navigator.gpu`. We set it lazily on first use and remove it
// again in shutdownGpu(), because a live reference keeps Node from exiting. The device gpu.js creates
// gets the adapter's full storage-buffer limits (gpu.js itself asks for the defaults: 8 bindings,
// 128 MiB), by wrapping GPUAdapter.prototype.requestDevice before the first kernel.
import { createRequire } from 'node:module';
import { DeviceError } from '../errors.js';
import { createPassTimer, type PassTimer } from './gpujs/pass-timer.js';
import { installLaneStrides } from './gpujs/lane-strides.js';
import { installQuadLoads } from './gpujs/quad-loads.js';
import { installScatterStores } from './gpujs/scatter-stores.js';
import { installWorkgroupSizes, type WorkgroupSizes } from './gpujs/workgroup-size.js';

const require = createRequire(import.meta.url);

// gpu.js has no types of its own worth importing; this is the surface we use.
export interface GpuJs {
  createKernel(fn: Function | string, settings?: Record<string, unknown>): any;
  createPipeline?(...args: unknown[]): any;
  addFunction(fn: Function, settings?: Record<string, unknown>): GpuJs;
  destroy(): Promise<void> | void;
  mode: string;
}

export interface AdapterReport {
  ok: boolean;
  /** adapter description, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe: Mesa 25…" */
  name?: string;
  vendor?: string;
  architecture?: string;
  limits?: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxStorageBuffersPerShaderStage: number; maxComputeWorkgroupsPerDimension: number };
  /** why WebGPU is unavailable */
  reason?: string;
}

let navigatorInstalled = false;
let adapterPromise: Promise<any> | undefined;
let dawnFlags: string[] = [];

/**
 * Benchmarks: dawn.node options for `create` (e.g. 'enable-dawn-features=disable_robustness'), set
 * before the first WebGPU use; ignored afterwards.
 */
export function setDawnFlags(flags: string[]): void {
  dawnFlags = [...flags];
}

function installNavigatorGpu(): void {
  if (navigatorInstalled) return;
  let webgpu: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    webgpu = require('webgpu');
  } catch (err) {
    throw new DeviceError(`WebGPU unavailable: the 'webgpu' package (dawn.node) did not load (${(err as Error).message.split('\n')[0]}); run 'npm ci', or use --device cpu`);
  }
  Object.assign(globalThis, webgpu.globals);
  const g = globalThis as any;
  g.navigator ??= {};
  g.navigator.gpu = webgpu.create(dawnFlags);
  // Ask for the adapter's real limits whenever a device is requested (gpu.js requests defaults).
  const proto = g.GPUAdapter?.prototype;
  if (proto && !proto.__mambaDnaWrapped) {
    const original = proto.requestDevice;
    proto.requestDevice = function (this: any, desc: any = {}) {
      const l = this.limits;
      const requiredLimits = {
        ...(desc.requiredLimits ?? {}),
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      };
      return original.call(this, { ...desc, requiredLimits });
    };
    proto.__mambaDnaWrapped = true;
  }
  navigatorInstalled = true;
}

/** Asks dawn.node for an adapter; never throws. */
export async function probeWebGpu(): Promise<AdapterReport> {
  try {
    installNavigatorGpu();
    adapterPromise ??= (globalThis as any).navigator.gpu.requestAdapter();
    const adapter = await adapterPromise;
    if (!adapter) {
      return { ok: false, reason: 'no WebGPU adapter answered (no Vulkan driver: on Debian install Mesa ≥ 25 lavapipe from bookworm-backports, see scripts/install-system-deps.sh; set XDG_RUNTIME_DIR)' };
    }
    const l = adapter.limits;
    return {
      ok: true,
      name: adapter.info?.description || adapter.info?.device || 'unknown adapter',
      vendor: adapter.info?.vendor,
      architecture: adapter.info?.architecture,
      limits: {
        maxStorageBufferBindingSize: Number(l.maxStorageBufferBindingSize),
        maxBufferSize: Number(l.maxBufferSize),
        maxStorageBuffersPerShaderStage: Number(l.maxStorageBuffersPerShaderStage),
        maxComputeWorkgroupsPerDimension: Number(l.maxComputeWorkgroupsPerDimension),
      },
    };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

const instances = new Map<string, GpuJs>();

/** A shared gpu.js instance in 'webgpu' or 'webasm' mode. */
export async function getGpu(mode: 'webgpu' | 'webasm'): Promise<GpuJs> {
  const existing = instances.get(mode);
  if (existing) return existing;
  if (mode === 'webgpu') {
    const report = await probeWebGpu();
    if (!report.ok) throw new DeviceError(`WebGPU unavailable: ${report.reason}`);
  }
  const { GPU, WebGPUKernel } = require('gpu.js');
  if (mode === 'webgpu') {
    installWorkgroupSizes(WebGPUKernel); // 32×8 / 256-thread workgroups: gpujs/workgroup-size.ts
    installLaneStrides(WebGPUKernel); // Array(n) results stored with strides: gpujs/lane-strides.ts
    installScatterStores(WebGPUKernel); // any number of stores per thread: gpujs/scatter-stores.ts
    installQuadLoads(WebGPUKernel); // 16-byte loads of a BC argument: gpujs/quad-loads.ts
  }
  const gpu: GpuJs = new GPU({ mode });
  instances.set(mode, gpu);
  return gpu;
}

/** Destroys gpu.js instances and drops navigator.gpu so that Node can exit. */
export async function shutdownGpu(): Promise<void> {
  for (const gpu of instances.values()) await gpu.destroy();
  instances.clear();
  if (navigatorInstalled) {
    const g = globalThis as any;
    adapterPromise = undefined;
    if (g.navigator) delete g.navigator.gpu;
    navigatorInstalled = false;
  }
}

/**
 * Benchmarks: the workgroup sizes of WebGPU kernels built after this call (gpujs/workgroup-size.ts;
 * { wide: [8, 8], flat: 64 } is gpu.js's own choice).
 */
export function setWorkgroupSizes(sizes: Partial<WorkgroupSizes>): void {
  const { WebGPUKernel } = require('gpu.js');
  installWorkgroupSizes(WebGPUKernel, sizes);
}

/**
 * Benchmarks: a per-kernel GPU timer (gpujs/pass-timer.ts) on the shared webgpu instance's device,
 * which must have been created with 'timestamp-query' (kernels/bench-util.ts deviceBench asks for it).
 */
export async function webgpuPassTimer(): Promise<PassTimer> {
  const gpu = await getGpu('webgpu');
  const k = gpu.createKernel(function (this: { thread: { x: number } }) { return this.thread.x; }, { output: [1], pipeline: true });
  const h = await k();
  const device = h.context.device;
  h.delete();
  k.destroy?.();
  const { WebGPUKernel } = require('gpu.js');
  return createPassTimer(device, WebGPUKernel);
}
