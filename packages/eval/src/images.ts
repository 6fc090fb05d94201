/** The images an evaluation manifest names: decoded to RGBA once, kept for the questions that follow. */
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { readDataFile } from '@tfjs-mbq/format/node';
import { tinyVlmImageProcessor } from '@tfjs-mbq/format';
import { modelImage, type RgbaImage } from '@tfjs-mbq/runtime';

/** A PNG or JPEG inside `dataDir` (a regular file, bounded: the format's reader) as RGBA bytes. */
export async function loadImage(dataDir: string, file: string): Promise<RgbaImage> {
  const path = join(dataDir, file);
  // Read the bytes first: jimp reports a missing file as an unloadable "URL".
  const bytes = await readDataFile(dataDir, file, 'image');
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  try {
    image = await Jimp.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new Error(`${path}: cannot read image (corrupt or not an image: ${(e as Error).message})`);
  }
  return { data: new Uint8Array(image.bitmap.data), width: image.bitmap.width, height: image.bitmap.height };
}

/** Decoded images by file name, the most recent `capacity` kept (manifests list an image's questions together). */
export class ImageCache {
  private readonly images = new Map<string, RgbaImage>();
  constructor(private readonly dataDir: string, private readonly capacity = 256) {}

  async get(file: string): Promise<RgbaImage> {
    let image = this.images.get(file);
    if (image) {
      this.images.delete(file);
    } else {
      image = await loadImage(this.dataDir, file);
      if (this.images.size >= this.capacity) this.images.delete(this.images.keys().next().value!);
    }
    this.images.set(file, image);
    return image;
  }
}

/** pixel_values `[H, W, 3]` of a manifest's image through the fixture's image processor (resize to `size`, RGB / 255). */
export async function loadImagePixels(dataDir: string, file: string, size: [number, number]): Promise<Float32Array> {
  return modelImage(await loadImage(dataDir, file), tinyVlmImageProcessor(size), size, join(dataDir, file)).pixels;
}
