/** `tfjs-mbq convert <hfDir>` on LLaVA-OneVision (base view + the one anyres tile of its 56x56 pinpoint): helpers/hf_convert.ts says what is checked. */
import { describeHfConversion } from './helpers/hf_convert.js';

describeHfConversion('llava-onevision-tiny');
