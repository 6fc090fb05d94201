/** The page's Web Worker: loads and runs the model (tfjs, the MBQ kernels) off the page's thread. */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { serveVlmWorker } from '@tfjs-mbq/runtime';

serveVlmWorker({ setWasmPaths });
