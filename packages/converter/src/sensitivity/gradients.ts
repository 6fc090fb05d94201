/**
 * tf.grad needs the gradient of every kernel on the path; '@tensorflow/tfjs-core' alone (Node entry)
 * registers none. ensureGradients() registers tfjs-core's own gradient set once, unless an app
 * (e.g. one that imports '@tensorflow/tfjs') already did.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerTfjsCoreGradients } from '../generated/tfjs_gradients.js';

export function ensureGradients(): void {
  // BatchMatMul and AddN are in every gradient set; their absence means none was registered.
  if (tf.getGradient('BatchMatMul') && tf.getGradient('AddN')) return;
  registerTfjsCoreGradients();
  if (!tf.getGradient('BatchMatMul')) throw new Error('ensureGradients: registering the tfjs-core gradients failed');
}
