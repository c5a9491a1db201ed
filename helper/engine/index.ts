// The engine's public surface: tensors, images-as-arrays and options in; nothing about files, HTTP or Figma.
export { selectBackend, isBackendChoice, BACKEND_NAMES } from './backend.js';
export type { BackendChoice, BackendName, BackendSelection } from './backend.js';
export { preferredGradientPath } from './fastGradients.js';
export type { GradientPath, GradientPlan } from './fastGradients.js';
export { Vgg19Features } from './vgg19.js';
export { MIN_IMAGE_SIDE, VGG19_CONV_LAYERS, convMultiplyAddsPerPixel } from './vggLayers.js';
export type { VggWeights, ConvWeights, VggConvLayerSpec } from './vggLayers.js';
export { StyleTransfer, disposeStyleGramTargets } from './styleTransfer.js';
export type {
  ProgressEvent,
  ScaleProgress,
  StyleGramTargets,
  StyleTargetCache,
  StylizeRequest,
  StylizeResult,
} from './styleTransfer.js';
export { scaleSchedule, COARSEST_LONG_SIDE, FINAL_SCALE_SHARE, MIN_FINAL_ITERATIONS } from './multiScale.js';
export type { MultiScaleMode, Scale } from './multiScale.js';
export { styleRatioForStrength } from './strength.js';
export type { RgbImage } from './rgbImage.js';
export { distanceJudge } from './distances.js';
export type { DistanceJudge, Distances } from './distances.js';
