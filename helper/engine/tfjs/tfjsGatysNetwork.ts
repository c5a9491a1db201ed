import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS } from '../../../shared/stylizeOptions.js';
import {
  gibibytes,
  type GatysNetwork,
  type JobFootprint,
  type ObjectiveTargets,
  type ObjectiveWeights,
  type Pooling,
  type ScaleObjective,
} from '../gatysNetwork.js';
import { gramMatrix, type GradientPath, type GradientPlan } from './fastGradients.js';
import { evaluateGatysObjective } from './gatysObjective.js';
import { makeLossTarget } from './losses.js';
import { Vgg19Features } from './vgg19.js';
import type { VggWeights } from '../vggLayers.js';

/**
 * Gatys' objective on TensorFlow.js (whichever of its backends is current): VGG-19 with the hand-written backward
 * pass of vgg19.ts and gatysObjective.ts.
 */
export class TfjsGatysNetwork implements GatysNetwork {
  readonly vgg: Vgg19Features;

  constructor(
    weights: VggWeights,
    gradients: GradientPath | GradientPlan,
    /** Whether the backend's memory is WebAssembly's heap, with its hard 4 GiB end. */
    private readonly wasmHeap: boolean,
  ) {
    this.vgg = new Vgg19Features(weights, gradients);
  }

  async contentFeatures(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor4D> {
    const pass = this.vgg.forward(image, [CONTENT_LAYER], pooling, false);
    try {
      return tf.clone(pass.features.get(CONTENT_LAYER)!);
    } finally {
      pass.dispose();
    }
  }

  async styleGrams(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor2D[]> {
    const pass = this.vgg.forward(image, STYLE_LAYERS, pooling, false);
    try {
      return STYLE_LAYERS.map((layer) => gramMatrix(pass.features.get(layer)!, this.vgg.gradients.gram));
    } finally {
      pass.dispose();
    }
  }

  objective(targets: ObjectiveTargets, weights: ObjectiveWeights, pooling: Pooling): ScaleObjective {
    // Each target's energy ‖t‖², once per scale; the values stay the caller's.
    const bound = {
      content: makeLossTarget(targets.content),
      styleGrams: targets.styleGrams.map((gram) => makeLossTarget(gram)),
    };
    return {
      evaluate: (image) => evaluateGatysObjective(this.vgg, image, bound, weights, pooling),
      dispose: () => tf.dispose([bound.content.energy, ...bound.styleGrams.map((target) => target.energy)]),
    };
  }

  assertFits(job: JobFootprint): void {
    if (this.wasmHeap) assertFitsWasmHeap(job);
  }

  dispose(): void {
    this.vgg.dispose();
  }
}

/**
 * WebAssembly's heap ends at 4 GiB, and running out inside a kernel does not fail cleanly: XNNPACK's allocation
 * fails, and the backend goes on with a null operator (a trap in the single-threaded build, a thread that never
 * finishes in the threaded one). So the wasm backend takes only jobs that fit, checked before they start, from
 * tensor memory measured with bench/ (it grows linearly with the pixels), plus a margin:
 * - a job's step: 2,040 bytes per output pixel at 512 × 512 (534 MB), 1,740 at 1024 × 1024 (1.8 GB), plus the
 *   L-BFGS history (2 × 10 images of 12 bytes a pixel);
 * - the style image's forward pass, for its Gram targets: 1,000 bytes per pixel of the scaled style image.
 * The budget leaves room for the weights (80 MB), the allocator's slack and the fragmentation of a long job.
 */
const STEP_BYTES_PER_PIXEL = 2_600;
const STYLE_FORWARD_BYTES_PER_PIXEL = 1_300;
const WASM_TENSOR_BUDGET_BYTES = 3 * 2 ** 30;

function assertFitsWasmHeap(job: JobFootprint): void {
  const { content, style } = job;
  const stepBytes = content.width * content.height * STEP_BYTES_PER_PIXEL;
  if (stepBytes > WASM_TENSOR_BUDGET_BYTES) {
    const maxPixels = Math.floor(WASM_TENSOR_BUDGET_BYTES / STEP_BYTES_PER_PIXEL);
    throw new Error(
      `${content.width}×${content.height} needs about ${gibibytes(stepBytes)} GiB per step, more than the wasm backend's ` +
        `4 GiB heap holds (at most about ${maxPixels.toLocaleString('en')} pixels, e.g. ` +
        `${Math.floor(Math.sqrt((maxPixels * 4) / 3))}×${Math.floor(Math.sqrt((maxPixels * 3) / 4))}): ` +
        'use a smaller size, or the onnxruntime or a native TensorFlow backend',
    );
  }
  const styleBytes = style.width * style.height * STYLE_FORWARD_BYTES_PER_PIXEL;
  if (styleBytes > WASM_TENSOR_BUDGET_BYTES) {
    throw new Error(
      `the style image, scaled to ${style.width}×${style.height}, needs about ${gibibytes(styleBytes)} GiB, ` +
        "more than the wasm backend's 4 GiB heap holds: use a smaller size or brush size, or a style image closer " +
        "to the content's proportions",
    );
  }
}
