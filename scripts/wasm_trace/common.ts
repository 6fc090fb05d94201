/** What trace.ts and step_cpu.ts share: their flags, the question's image, the models, a median. */
import { readImageFile } from '@tfjs-mbq/converter';
import { loadVlm, type RgbaImage, type Vlm } from '@tfjs-mbq/runtime';

/** Removes `name <value>` from `args` and returns the value (`fallback` when absent). */
export function takeFlag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  args.splice(i, 2);
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

/** The image as the runtime takes it, and every model directory loaded on the current backend. */
export async function loadImageAndModels(image: string, dirs: readonly string[]): Promise<{ img: RgbaImage; models: Vlm[] }> {
  const decoded = await readImageFile(image);
  if (typeof decoded === 'string') throw new Error(`${image}: cannot read image (${decoded})`);
  const img: RgbaImage = { data: decoded.bitmap.data, width: decoded.bitmap.width, height: decoded.bitmap.height };
  const models: Vlm[] = [];
  for (const dir of dirs) models.push(await loadVlm(dir, { backend: 'current' }));
  return { img, models };
}

export function median(v: readonly number[]): number {
  const s = v.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
