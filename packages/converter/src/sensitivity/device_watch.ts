/**
 * A failed device must stop a stage with one line saying so, not surface later as numbers: a WebGPU
 * buffer that could not be allocated leaves the command buffers that use it invalid, and their
 * results read back as zeros (issue 12 §4: "the caption gradient is 0"). tfjs watches nothing on its
 * GPUDevice, so this does: each unit of work runs inside out-of-memory, validation and internal
 * error scopes (popErrorScope resolves once the device finished what the work submitted; the work
 * reads a result back, which submits tfjs's queue), and device.lost is listened to throughout.
 * On other backends it only runs the work (a non-finite result is the caller's check).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConversionError } from '../io/errors.js';

/** The part of a GPUDevice this uses (tfjs's webgpu backend holds it as `backend.device`). */
export interface GpuDeviceLike {
  readonly lost: Promise<{ reason?: string; message: string }>;
  pushErrorScope(filter: 'out-of-memory' | 'validation' | 'internal'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}

export interface DeviceWatch {
  /** Runs `work`; throws a ConversionError naming `where` if the device erred or was lost meanwhile. */
  run<T>(where: string, work: () => Promise<T>): Promise<T>;
  /** Stops listening (the lost promise stays pending; its handler then does nothing). */
  dispose(): void;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The device of the current backend, if it is tfjs's webgpu backend. */
export function currentGpuDevice(): GpuDeviceLike | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const device = (tf.backend() as { device?: Partial<GpuDeviceLike> }).device;
  return device && typeof device.pushErrorScope === 'function' && device.lost ? device as GpuDeviceLike : undefined;
}

/** `stage` begins each message ("sensitivity: ..."). */
export function watchDevice(stage: string, device: GpuDeviceLike | undefined = currentGpuDevice()): DeviceWatch {
  if (!device) return { run: (_where, work) => work(), dispose: () => undefined };
  let lost: string | undefined;
  let live = true;
  void device.lost.then((info) => { if (live) lost = `${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}`; });
  const held = (): string => `tfjs held ${gib(tf.memory().numBytes)} of tensors`;
  const fail = (where: string, what: string): ConversionError =>
    new ConversionError('BACKEND', `${stage}: ${what} during ${where} (${held()}); no result was written`);
  return {
    async run<T>(where: string, work: () => Promise<T>): Promise<T> {
      const filters = ['out-of-memory', 'validation', 'internal'] as const;
      for (const f of filters) device.pushErrorScope(f);
      let result: T | undefined;
      let thrown: unknown;
      let failed = false;
      try {
        result = await work();
      } catch (e) {
        thrown = e;
        failed = true;
      }
      // Popped in reverse order of pushing: internal, validation, out-of-memory.
      const errors: Array<{ message: string } | null> = [];
      for (let i = 0; i < filters.length; i++) errors.push(await device.popErrorScope().catch(() => null));
      const [internal, validation, oom] = errors;
      // A lost device is the cause of whatever else went wrong; then memory, then the rest.
      if (lost !== undefined) throw fail(where, `the WebGPU device was lost (${lost})`);
      if (oom) throw fail(where, `the WebGPU device ran out of memory (${oom.message.split('\n')[0]})`);
      if (validation) throw fail(where, `the WebGPU device rejected a command (${validation.message.split('\n')[0]})`);
      if (internal) throw fail(where, `the WebGPU device failed (${internal.message.split('\n')[0]})`);
      if (failed) throw thrown;
      return result as T;
    },
    dispose(): void { live = false; },
  };
}
