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
// The fixture's palette (fixtures/src/scene.ts) and a dark background like its scenes; the last
// swatch paints background (an eraser).
const BACKGROUND = 'rgb(25, 25, 25)';
const COLORS = ['rgb(220, 40, 40)', 'rgb(40, 200, 60)', 'rgb(50, 90, 235)', 'rgb(230, 210, 40)', BACKGROUND];
let color = COLORS[0]!;
type Tool = 'brush' | 'circle' | 'square' | 'triangle';
let tool: Tool = 'brush';
/** What the model sees: the picked image as is, or the canvas once the user draws. */
let source: ImageInput = canvas;
let vlm: Vlm | null = null;

function clearCanvas(): void {
  ctx.fillStyle = BACKGROUND;
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
  $('tool').querySelectorAll<HTMLButtonElement>('button').forEach((b) => {
    b.onclick = () => {
      tool = b.dataset.tool as Tool;
      $('tool').querySelectorAll('button').forEach((x) => x.classList.toggle('active', x === b));
    };
  });
  let last: [number, number] | null = null;
  const point = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (source !== canvas) { source = canvas; $('source').textContent = 'Drawing on the canvas.'; }
    if (tool !== 'brush') { stamp(tool, point(e)); return; }
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    ctx.strokeStyle = color;
    ctx.lineWidth = canvas.width / ($<HTMLInputElement>('large').checked ? 8 : 16);
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

/** A filled shape centred at `at`, sized like the fixture's small (r 6) and large (r 12) objects at 64 px. */
function stamp(shape: Exclude<Tool, 'brush'>, [x, y]: [number, number]): void {
  const r = (canvas.width / 64) * ($<HTMLInputElement>('large').checked ? 12 : 6);
  ctx.fillStyle = color;
  ctx.beginPath();
  if (shape === 'circle') ctx.arc(x, y, r, 0, 2 * Math.PI);
  else if (shape === 'square') ctx.rect(x - r, y - r, 2 * r, 2 * r);
  else { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r); ctx.closePath(); }
  ctx.fill();
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
    const n = gen.tokenIds.length;
    $('timing').textContent = `${n} token${n === 1 ? '' : 's'} in ${ms.toFixed(0)} ms (prompt ${gen.promptLength} tokens).`;
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
    // Draw at the model's own resolution (shown enlarged), so what you see is what it reads.
    [canvas.height, canvas.width] = vlm.config.imageSize;
    clearCanvas();
    $('backend').textContent = vlm.backend;
    $('backend').title = vlm.backendDetail;
    $('decoding').textContent = vlm.decoding;
    $('decoding').title = vlm.decodingNote;
    $('status').textContent = 'Model ready.';
    $<HTMLButtonElement>('ask').disabled = false;
    $<HTMLInputElement>('file').disabled = false;
    document.body.dataset.state = 'ready';
  } catch (e) {
    $('status').textContent = `Could not load the model from ${modelUrl}: ${(e as Error).message}`;
    document.body.dataset.state = 'error';
  }
}

void main();
