import type * as tf from "@tensorflow/tfjs-core";
export const WEBGPU_KERNEL_CONFIGS: readonly tf.KernelConfig[] = [];
