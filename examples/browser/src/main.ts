/**
 * The example page: loads a converted VLM (URL from `?model=`, default `./model/`) showing the bytes
 * loaded, lets the user pick or draw an image, and streams the answer to a question (Stop cancels
 * it). WebGPU when the browser has a hardware adapter, else wasm (its .wasm files are served next to
 * this script, under ./wasm/). `?min-new-tokens=N` (at most 64) makes the model say at least N tokens,
 * as far as its positions allow (to try streaming and Stop with a model that answers in a word).
 */
import { deleteCachedModel, listCachedModels, loadVlmInWorker, type ImageInput, type WorkerLoadOptions, type WorkerVlm } from '@tfjs-mbq/runtime/worker';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? './model/', location.href).href;
const backend = (params.get('backend') ?? 'auto') as WorkerLoadOptions['backend'];
const minNewTokens = Math.min(64, Math.max(0, Number(params.get('min-new-tokens') ?? 0) | 0));
const maxNewTokens = Math.max(16, minNewTokens);

/** 2.8 MiB, 512 KiB. */
const mib = (n: number): string => (n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`);

/** Shows `text` in element `id` as an error (red, announced) or as plain text. */
function show(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
  if (error) el.setAttribute('role', 'alert');
  else el.removeAttribute('role');
}

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
let vlm: WorkerVlm | null = null;

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

let running: AbortController | null = null;

async function ask(): Promise<void> {
  if (!vlm) return;
  const question = $<HTMLInputElement>('question').value;
  $<HTMLButtonElement>('ask').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  show('answer', '…');
  $('timing').textContent = '';
  document.body.dataset.state = 'answering';
  running = new AbortController();
  const t0 = performance.now();
  let tokens = 0;
  let state = 'answered';
  try {
    const gen = await vlm.generate(source, question, {
      maxNewTokens, minNewTokens, signal: running.signal,
      onToken: (t) => { tokens = t.index + 1; show('answer', t.text); },
    });
    const ms = performance.now() - t0;
    show('answer', gen.text || '(empty)');
    const n = gen.tokenIds.length;
    $('timing').textContent = `${n} token${n === 1 ? '' : 's'} in ${ms.toFixed(0)} ms (prompt ${gen.promptLength} tokens).`;
  } catch (e) {
    if ((e as Error).name === 'AbortError') {
      state = 'stopped';
      $('timing').textContent = `Stopped after ${tokens} token${tokens === 1 ? '' : 's'} (${(performance.now() - t0).toFixed(0)} ms).`;
    } else {
      show('answer', `Error: ${(e as Error).message}`, true);
    }
  } finally {
    running = null;
    $<HTMLButtonElement>('ask').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
    document.body.dataset.state = state;
  }
}

/** What the Cache API holds of this page's model, and a button that deletes it. */
async function showCache(): Promise<void> {
  if (!('caches' in globalThis)) { $('cached').textContent = 'unavailable (needs http(s))'; return; }
  const mine = (await listCachedModels()).find((m) => m.url === new URL('./', new URL(modelUrl)).href || m.url === modelUrl);
  $('cached').textContent = mine ? `${mib(mine.bytes)} in ${mine.files} files` : 'empty';
  const forget = $<HTMLButtonElement>('forget');
  forget.disabled = !mine;
  forget.onclick = async () => {
    forget.disabled = true;
    await deleteCachedModel(modelUrl);
    await showCache();
  };
}

async function main(): Promise<void> {
  setupDrawing();
  clearCanvas();
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void pickFile(f).catch((err: Error) => show('source', `Cannot read the image: ${err.message}`, true));
  });
  $<HTMLFormElement>('ask-form').addEventListener('submit', (e) => { e.preventDefault(); void ask(); });
  $('stop').onclick = () => running?.abort();
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  try {
    const bar = $<HTMLProgressElement>('load-progress');
    let total = 0;
    vlm = await loadVlmInWorker(worker, modelUrl, {
      backend,
      wasmPaths: new URL('./wasm/', location.href).href, // the tfjs-backend-wasm .wasm files
      cache: 'caches' in globalThis, // read from the Cache API after the first visit
      onProgress: (p) => {
        total = p.totalBytes;
        bar.max = Math.max(1, p.totalBytes);
        bar.value = p.loadedBytes;
        $('status').textContent = p.stage === 'weights' ? `Loading model… ${mib(p.loadedBytes)} of ${mib(p.totalBytes)}` : 'Preparing the model…';
      },
    });
    // Draw at the model's own resolution (shown enlarged), so what you see is what it reads.
    [canvas.height, canvas.width] = vlm.config.imageSize;
    clearCanvas();
    $('backend').textContent = vlm.backend;
    $('backend').title = vlm.backendDetail;
    $('decoding').textContent = vlm.decoding;
    $('decoding').title = vlm.decodingNote;
    $('status').textContent = `Model ready (${mib(total)}).`;
    await showCache();
    $<HTMLButtonElement>('ask').disabled = false;
    $<HTMLInputElement>('file').disabled = false;
    document.body.dataset.state = 'ready';
  } catch (e) {
    show('status', `Could not load the model from ${modelUrl}: ${(e as Error).message}`, true);
    document.body.dataset.state = 'error';
  }
}

void main();
