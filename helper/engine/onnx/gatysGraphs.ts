import { CONTENT_LAYER, STYLE_LAYERS } from '../../../shared/stylizeOptions.js';
import type { Pooling } from '../gatysNetwork.js';
import { VGG19_CONV_LAYERS, type VggWeights } from '../vggLayers.js';
import { ElementType, OnnxGraphBuilder } from './graphBuilder.js';
import {
  convReluBackward,
  convReluForward,
  gramBackward,
  gramForward,
  poolBackward,
  poolForward,
  type ConvolutionAlgorithm,
  type ConvRecord,
  type GramRecord,
  type PoolRecord,
} from './vggBlocks.js';

/**
 * Gatys' objective as two ONNX models, emitted from the same layer plan (vggLayers.ts) and weights as the
 * TensorFlow.js network: one to compute the targets, one for a whole optimization step's math. Images are NHWC in
 * the network's input space (as the engine keeps them); H and W are symbolic, so one session serves every size.
 */

/** The deepest layer Gatys' objective needs. */
const LAST_LAYER = 'conv5_1';

const STYLE_CHANNELS = new Map(VGG19_CONV_LAYERS.map((layer) => [layer.name, layer.outChannels]));
const CONTENT_CHANNELS = STYLE_CHANNELS.get(CONTENT_LAYER)!;

/** The targets model: image → conv4_2 features (NHWC) and the Gram matrix of each style layer. */
export const FEATURE_MODEL = {
  image: 'image',
  contentFeatures: 'content_features',
  gram: (layer: string) => `gram_${layer}`,
} as const;

/** The objective model: image, targets and weights → the losses and the gradient with respect to the image. */
export const OBJECTIVE_MODEL = {
  image: 'image',
  /** conv4_2 features of the content, NHWC [1, h, w, 512]. */
  contentTarget: 'content_target',
  gramTarget: (layer: string) => `gram_target_${layer}`,
  /** β·wᵢ / Σw for conv1_1 … conv5_1, float [5]. */
  styleCoefficients: 'style_coefficients',
  /** float scalar */
  tvWeight: 'tv_weight',
  /** L_content + Σ coefficientᵢ·Eᵢ + tv_weight·L_tv, scalar. */
  loss: 'loss',
  contentLoss: 'content_loss',
  /** Eᵢ, [5] */
  styleLayerLosses: 'style_layer_losses',
  /** NHWC, like the image. */
  gradient: 'gradient',
} as const;

const IMAGE_SHAPE = [1, 'H', 'W', 3] as const;
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

type BackwardRecord = ConvRecord | PoolRecord;

/** The forward pass along the layer plan, up to conv5_1; with `withBackward` it also records the way back. */
function emitNetwork(
  g: OnnxGraphBuilder,
  input: string,
  weights: VggWeights,
  pooling: Pooling,
  withBackward: boolean,
  convolutions: ConvolutionAlgorithm,
): { features: Map<string, string>; records: BackwardRecord[] } {
  const features = new Map<string, string>();
  const records: BackwardRecord[] = [];
  let activation = input;
  for (const spec of VGG19_CONV_LAYERS) {
    if (spec.poolBefore) {
      const pool = poolForward(g, activation, pooling, withBackward);
      if (pool.record) records.push(pool.record);
      activation = pool.output;
    }
    const layerWeights = weights.get(spec.name);
    if (!layerWeights) throw new Error(`VGG-19 weights lack layer ${spec.name}`);
    const conv = convReluForward(g, activation, spec, layerWeights, withBackward, convolutions);
    if (conv.record) records.push(conv.record);
    activation = conv.output;
    features.set(spec.name, activation);
    if (spec.name === LAST_LAYER) break;
  }
  return { features, records };
}

/** Walks the records back, adding each feature's gradient where its layer is reached; the gradient at the input. */
function emitBackward(g: OnnxGraphBuilder, records: readonly BackwardRecord[], featureGradients: ReadonlyMap<string, string>): string {
  let dy: string | null = null;
  for (const record of [...records].reverse()) {
    if (record.kind === 'conv') {
      const gradient = featureGradients.get(record.layer);
      if (gradient) dy = dy ? g.node('Add', [dy, gradient], `dfeature_sum_${record.layer}`) : gradient;
      if (dy) dy = convReluBackward(g, dy, record);
    } else if (dy) {
      dy = poolBackward(g, dy, record);
    }
  }
  if (!dy) throw new Error('the objective has no gradient path');
  return dy;
}

/** ‖residual‖² / ‖target‖² and ‖target‖², as scalars (the engine's relative squared error, see losses.ts). */
function relativeSquaredError(g: OnnxGraphBuilder, residual: string, target: string, name: string): { loss: string; energy: string } {
  const energy = g.node('Max', [g.node('ReduceSumSquare', [target], `energy_raw_${name}`, { keepdims: 0 }), g.scalar(1e-12)], `energy_${name}`);
  const loss = g.node('Div', [g.node('ReduceSumSquare', [residual], `sq_${name}`, { keepdims: 0 }), energy], `loss_${name}`);
  return { loss, energy };
}

/**
 * Total variation as losses.ts defines it: mean squared difference of vertical and of horizontal neighbours, over
 * 255², and its gradient. Works on the NHWC image (axes 1 and 2).
 */
function emitTotalVariation(g: OnnxGraphBuilder, image: string): { loss: string; gradient: string } {
  const largest = 2 ** 62;
  const terms = [1, 2].map((axis) => {
    const axes = g.int64Initializer(`tv_axis_${axis}`, [axis]);
    const later = g.node('Slice', [image, g.int64Initializer('tv_start_1', [1]), g.int64Initializer('tv_end_all', [largest]), axes], `tv_later_${axis}`);
    const earlier = g.node('Slice', [image, g.int64Initializer('tv_start_0', [0]), g.int64Initializer('tv_end_last', [-1]), axes], `tv_earlier_${axis}`);
    const difference = g.node('Sub', [later, earlier], `tv_difference_${axis}`);
    const mean = g.node('ReduceMean', [g.node('Mul', [difference, difference], `tv_square_${axis}`)], `tv_mean_${axis}`, { keepdims: 0 });
    // d mean(d²) / d d = 2d / count; each difference pulls its later pixel up and its earlier one down.
    const count = g.node('Cast', [g.node('Size', [difference], `tv_count_int_${axis}`)], `tv_count_${axis}`, { to: 1 });
    const scale = g.node('Div', [g.scalar(2 / (255 * 255)), count], `tv_scale_${axis}`);
    const dDifference = g.node('Mul', [difference, scale], `tv_ddifference_${axis}`);
    const before = [0, 0, 0, 0];
    const after = [0, 0, 0, 0];
    before[axis] = 1;
    const toLater = g.node('Pad', [dDifference, g.int64Initializer('tv_pad_before', [...before, 0, 0, 0, 0])], `tv_dlater_${axis}`);
    after[axis] = 1;
    const toEarlier = g.node('Pad', [dDifference, g.int64Initializer('tv_pad_after', [0, 0, 0, 0, ...after])], `tv_dearlier_${axis}`);
    return { mean, gradient: g.node('Sub', [toLater, toEarlier], `tv_gradient_${axis}`) };
  });
  const sum = g.node('Add', [terms[0]!.mean, terms[1]!.mean], 'tv_sum');
  return {
    loss: g.node('Div', [sum, g.scalar(255 * 255)], 'tv_loss'),
    gradient: g.node('Add', [terms[0]!.gradient, terms[1]!.gradient], 'tv_gradient'),
  };
}

/** The targets model (see FEATURE_MODEL). It runs once per scale, so its convolutions stay direct. */
export function featuresModel(weights: VggWeights, pooling: Pooling): Uint8Array {
  const g = new OnnxGraphBuilder(`vgg19_features_${pooling}`);
  const image = g.input(FEATURE_MODEL.image, ElementType.float, IMAGE_SHAPE);
  const { features } = emitNetwork(g, g.node('Transpose', [image], 'image_nchw', { perm: TO_NCHW }), weights, pooling, false, 'direct');
  const content = g.node('Transpose', [features.get(CONTENT_LAYER)!], 'content_nhwc', { perm: TO_NHWC });
  g.output(FEATURE_MODEL.contentFeatures, content, ElementType.float, [1, 'h', 'w', CONTENT_CHANNELS]);
  for (const layer of STYLE_LAYERS) {
    const channels = STYLE_CHANNELS.get(layer)!;
    const { gram } = gramForward(g, features.get(layer)!, channels, layer);
    g.output(FEATURE_MODEL.gram(layer), gram, ElementType.float, [channels, channels]);
  }
  return g.build();
}

/** The objective model (see OBJECTIVE_MODEL): one evaluation of Gatys' objective and its gradient. */
export function objectiveModel(weights: VggWeights, pooling: Pooling, convolutions: ConvolutionAlgorithm): Uint8Array {
  const g = new OnnxGraphBuilder(`gatys_objective_${pooling}`);
  const image = g.input(OBJECTIVE_MODEL.image, ElementType.float, IMAGE_SHAPE);
  const contentTarget = g.input(OBJECTIVE_MODEL.contentTarget, ElementType.float, [1, 'h', 'w', CONTENT_CHANNELS]);
  const gramTargets = STYLE_LAYERS.map((layer) => {
    const channels = STYLE_CHANNELS.get(layer)!;
    return g.input(OBJECTIVE_MODEL.gramTarget(layer), ElementType.float, [channels, channels]);
  });
  const coefficients = g.input(OBJECTIVE_MODEL.styleCoefficients, ElementType.float, [STYLE_LAYERS.length]);
  const tvWeight = g.input(OBJECTIVE_MODEL.tvWeight, ElementType.float, []);

  const { features, records } = emitNetwork(g, g.node('Transpose', [image], 'image_nchw', { perm: TO_NCHW }), weights, pooling, true, convolutions);
  const featureGradients = new Map<string, string>();

  // Content: ‖A − T‖² / ‖T‖² on conv4_2, gradient 2(A − T) / ‖T‖² (α = 1).
  const contentResidual = g.node(
    'Sub',
    [features.get(CONTENT_LAYER)!, g.node('Transpose', [contentTarget], 'content_target_nchw', { perm: TO_NCHW })],
    'content_residual',
  );
  const content = relativeSquaredError(g, contentResidual, contentTarget, 'content');
  featureGradients.set(CONTENT_LAYER, g.node('Mul', [contentResidual, g.node('Div', [g.scalar(2), content.energy], 'content_scale')], 'dcontent'));

  // Style: Eᵢ = ‖G − Tᵢ‖² / ‖Tᵢ‖² per layer, weighted by its coefficient; gradient 2·cᵢ(G − Tᵢ) / ‖Tᵢ‖² through the Gram.
  let loss = content.loss;
  const layerLosses = STYLE_LAYERS.map((layer, i) => {
    const gram: GramRecord = gramForward(g, features.get(layer)!, STYLE_CHANNELS.get(layer)!, layer);
    const residual = g.node('Sub', [gram.gram, gramTargets[i]!], `gram_residual_${layer}`);
    const term = relativeSquaredError(g, residual, gramTargets[i]!, layer);
    const coefficient = g.node('Gather', [coefficients, g.int64Initializer(`layer_index_${i}`, [i], [])], `coefficient_${layer}`);
    loss = g.node('Add', [loss, g.node('Mul', [term.loss, coefficient], `weighted_loss_${layer}`)], `loss_after_${layer}`);
    const scale = g.node('Div', [g.node('Mul', [coefficient, g.scalar(2)], `twice_coefficient_${layer}`), term.energy], `gram_scale_${layer}`);
    const dGram = g.node('Mul', [residual, scale], `dgram_${layer}`);
    const dFeatures = gramBackward(g, dGram, gram);
    const existing = featureGradients.get(layer);
    featureGradients.set(layer, existing ? g.node('Add', [existing, dFeatures], `dfeatures_both_${layer}`) : dFeatures);
    return g.node('Unsqueeze', [term.loss, g.int64Initializer('axis_0', [0])], `layer_loss_${layer}`);
  });

  const networkGradient = g.node('Transpose', [emitBackward(g, records, featureGradients)], 'network_gradient', { perm: TO_NHWC });
  const tv = emitTotalVariation(g, image);
  loss = g.node('Add', [loss, g.node('Mul', [tv.loss, tvWeight], 'weighted_tv')], 'total_loss');
  const gradient = g.node('Add', [networkGradient, g.node('Mul', [tv.gradient, tvWeight], 'weighted_tv_gradient')], 'total_gradient');

  g.output(OBJECTIVE_MODEL.loss, loss, ElementType.float, []);
  g.output(OBJECTIVE_MODEL.contentLoss, content.loss, ElementType.float, []);
  g.output(OBJECTIVE_MODEL.styleLayerLosses, g.node('Concat', layerLosses, 'layer_losses', { axis: 0 }), ElementType.float, [STYLE_LAYERS.length]);
  g.output(OBJECTIVE_MODEL.gradient, gradient, ElementType.float, IMAGE_SHAPE);
  return g.build();
}
