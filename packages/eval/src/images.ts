/** The images an evaluation manifest names: decoded to RGBA once, kept for the questions that follow. */
import { join } from 'node:path';
import { decodeImage } from '@tfjs-mbq/converter';
import { tinyVlmImageProcessor } from '@tfjs-mbq/format';
import { readDataFile } from '@tfjs-mbq/format/node';
import { modelImage, type RgbaImage } from '@tfjs-mbq/runtime';

/**
 * A PNG or JPEG inside `dataDir` as RGBA bytes: a regular file of bounded size (format's reader),
 * its header within IMAGE_LIMITS before decoding (the converter's decodeImage).
 */
export async function loadImage(dataDir: string, file: string): Promise<RgbaImage> {
  const image = await decodeImage(await readDataFile(dataDir, file, 'image'));
  if (typeof image === 'string') throw new Error(`${join(dataDir, file)}: cannot read image (${image})`);
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
  return modelImage(await loadImage(dataDir, file), tinyVlmImageProcessor(size), { kind: 'image' }, size, join(dataDir, file)).pixels;
}
