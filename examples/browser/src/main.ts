/**
 * The example page: loads a converted VLM (URL from `?model=`, default `./model/`), lets the user
 * pick or draw an image, and answers a question. WebGPU when the browser has a hardware adapter,
 * else wasm (its .wasm files are served next to this script, under ./wasm/).
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadVlm, type BackendName, type ImageInput, type Vlm } from '@tfjs-mbq/runtime';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? './model/', location.href).href;
const backend = (params.get('backend') ?? 'auto') as BackendName;

const canvas = $<HTMLCanvasElement>('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
const COLORS = ['#e53935', '#43a047', '#1e88e5', '#fdd835', '#000000', '#ffffff'];
let color = COLORS[0]!;
/** What the model sees: the picked image as is, or the canvas once the user draws. */
let source: ImageInput = canvas;
let vlm: Vlm | null = null;

function clearCanvas(): void {
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  source = canvas;
  $('source').textContent = 'Drawing on the canvas.';
}

function setupDrawing(): void {
  const palette = $('palette');
  for (const c of COLORS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.style.background = c;
    b.title = c;
    b.className = c === color ? 'active' : '';
    b.onclick = () => {
      color = c;
      palette.querySelectorAll('button').forEach((x) => x.classList.toggle('active', x === b));
    };
    palette.append(b);
  }
  let last: [number, number] | null = null;
  const point = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
    if (source !== canvas) { source = canvas; $('source').textContent = 'Drawing on the canvas.'; }
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    ctx.strokeStyle = color;
    ctx.lineWidth = Number($<HTMLInputElement>('brush').value);
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const end = (): void => { last = null; };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('clear').onclick = clearCanvas;
}

async function pickFile(file: File): Promise<void> {
  const img = new Image();
  img.src = URL.createObjectURL(file);
  await img.decode();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  // The model reads the image itself (resized once, to its own size), not the enlarged canvas.
  source = img;
  $('source').textContent = `Image: ${file.name} (${img.naturalWidth}×${img.naturalHeight}).`;
}

async function ask(): Promise<void> {
  if (!vlm) return;
  const question = $<HTMLInputElement>('question').value;
  $<HTMLButtonElement>('ask').disabled = true;
  $('answer').textContent = '…';
  document.body.dataset.state = 'answering';
  try {
    const t0 = performance.now();
    const gen = await vlm.generate(source, question, { maxNewTokens: 16 });
    const ms = performance.now() - t0;
    $('answer').textContent = gen.text || '(empty)';
    $('timing').textContent = `${gen.tokenIds.length} tokens in ${ms.toFixed(0)} ms (prompt ${gen.promptLength} tokens).`;
  } catch (e) {
    $('answer').textContent = `error: ${(e as Error).message}`;
  } finally {
    $<HTMLButtonElement>('ask').disabled = false;
    document.body.dataset.state = 'answered';
  }
}

async function main(): Promise<void> {
  setupDrawing();
  clearCanvas();
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void pickFile(f).catch((err: Error) => ($('source').textContent = `cannot read the image: ${err.message}`));
  });
  $<HTMLFormElement>('ask-form').addEventListener('submit', (e) => { e.preventDefault(); void ask(); });
  setWasmPaths(new URL('./wasm/', location.href).href);
  try {
    vlm = await loadVlm(modelUrl, { backend });
    $('backend').textContent = vlm.backend;
    $('backend').title = vlm.backendDetail;
    $('decoding').textContent = vlm.decoding;
    $('decoding').title = vlm.decodingNote;
    $('status').textContent = 'Model ready.';
    $<HTMLButtonElement>('ask').disabled = false;
    document.body.dataset.state = 'ready';
  } catch (e) {
    $('status').textContent = `Could not load the model from ${modelUrl}: ${(e as Error).message}`;
    document.body.dataset.state = 'error';
  }
}

void main();
