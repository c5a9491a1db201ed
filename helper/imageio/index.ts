// Image files and bytes in and out (sharp). The only part of Gramstyle that knows about image formats.
export { ImageInputError } from './errors.js';
export { decodeImage, MAX_INPUT_PIXELS } from './decode.js';
export type { DecodeLimits } from './decode.js';
export { encodePng, outputSize, resizeToLongSide } from './pixels.js';
export { prepareContentImage, prepareStyleImages, prepareStylizeImages, withStyleImages } from './stylizeImages.js';
export type { StylizeImages } from './stylizeImages.js';
