/** `tfjs-mbq convert <hfDir>` on Qwen2-VL (the import's default fixed image size, 112x112: the calibration's 64x64 images are resized to it): helpers/hf_convert.ts says what is checked. */
import { describeHfConversion } from './helpers/hf_convert.js';

describeHfConversion('qwen2-vl-tiny', { recordsImageSize: [84, 84] });
