// The engine's public surface: tensors, images-as-arrays and options in; nothing about files, HTTP or Figma.
// styleTransfer.ts is the one optimization loop; gatysNetwork.ts is what differs per backend, implemented on
// TensorFlow.js (tfjs/) and on ONNX Runtime (onnx/); backendSelection.ts picks one. Around the loop: the style targets
// of one or several style images (styleTargets.ts), keeping the content's colours (preserveColors.ts) and the strength
// preview row (strengthRow.ts).
export { selectBackend, isBackendChoice, BACKEND_NAMES, defaultCandidates } from './backendSelection.js';
export type { BackendCandidate, BackendChoice, BackendName, BackendSelection } from './backendSelection.js';
export type {
  GatysNetwork,
  JobFootprint,
  ObjectiveEvaluation,
  ObjectiveLosses,
  ObjectiveTargets,
  ObjectiveWeights,
  Pooling,
  ScaleObjective,
  StyleGrams,
} from './gatysNetwork.js';
export { knownAnswer, knownAnswerDisagreement, KNOWN_ANSWER_TOLERANCE } from './knownAnswer.js';
export type { KnownAnswer } from './knownAnswer.js';
export { TfjsGatysNetwork } from './tfjs/tfjsGatysNetwork.js';
export { OnnxGatysNetwork } from './onnx/onnxGatysNetwork.js';
export { providerPlan, nvidiaDriverFound, ONNX_BACKENDS } from './onnx/executionProviders.js';
export type { OnnxBackendName, ProviderPlan } from './onnx/executionProviders.js';
export { activateTfjsBackend } from './tfjs/tfjsBackends.js';
export type { TfjsBackendName } from './tfjs/tfjsBackends.js';
export { MIN_IMAGE_SIDE, VGG19_CONV_LAYERS, convMultiplyAddsPerPixel } from './vggLayers.js';
export type { VggWeights, ConvWeights, VggConvLayerSpec } from './vggLayers.js';
export { StyleTransfer } from './styleTransfer.js';
export type { ProgressEvent, StylizeRequest, StylizeResult } from './styleTransfer.js';
export { oneStyle, styleImageLabel } from './styleTargets.js';
export type { StyleTargetCache, WeightedStyle } from './styleTargets.js';
export { renderStrengthRow } from './strengthRow.js';
export type { StrengthRowRequest, StrengthRowResult } from './strengthRow.js';
export { scaleSchedule, COARSEST_LONG_SIDE, MAX_SCALES, FINAL_SCALE_SHARE, MIN_FINAL_ITERATIONS } from './multiScale.js';
export type { MultiScaleMode, Scale } from './multiScale.js';
export { styleRatioForStrength } from './strength.js';
export type { RgbImage } from './rgbImage.js';
export { distanceJudge } from './distances.js';
export type { DistanceJudge, Distances } from './distances.js';
