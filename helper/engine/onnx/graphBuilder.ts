import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The operator set the graphs are written against (ONNX Runtime 1.30 implements up to 23). */
export const OPSET = 17;

type AttributeValue = number | readonly number[] | string | { readonly float: number } | { readonly floats: readonly number[] };

/** Element types the graphs use, as ONNX's TensorProto.DataType numbers. */
export const ElementType = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
} as const;
export type ElementType = (typeof ElementType)[keyof typeof ElementType];

/** A dimension: a fixed size, or a symbolic one named like 'H', bound when the session runs. */
export type Dimension = number | string;

/**
 * Builds one ONNX model: the graph's inputs, outputs, initializers (the weights) and nodes, serialized with the
 * protobuf code generated from onnx.proto (onnx-proto). Node outputs get unique names from a prefix, so the emitters
 * in vggGraph.ts only name what they mean ('relu_conv1_1'); the builder never interprets the graph.
 */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  /** Constants stored once however often they are asked for: scalars and int64 tensors by value, shared floats by name. */
  private readonly sharedConstants = new Map<string, string>();

  constructor(private readonly graphName: string) {}

  /** A unique value name from a readable prefix. */
  name(prefix: string): string {
    let candidate = prefix;
    for (let i = 2; this.usedNames.has(candidate); i++) candidate = `${prefix}_${i}`;
    this.usedNames.add(candidate);
    return candidate;
  }

  input(name: string, type: ElementType, shape: readonly Dimension[]): string {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** Marks `value` as the graph output `name` (through an Identity node when the names differ). */
  output(name: string, value: string, type: ElementType, shape: readonly Dimension[]): void {
    if (value !== name) {
      this.usedNames.add(name);
      this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name }));
    }
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** A float tensor stored in the model (weights). */
  floatInitializer(prefix: string, values: Float32Array, dims: readonly number[]): string {
    const name = this.name(prefix);
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ElementType.float,
        rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      }),
    );
    return name;
  }

  /**
   * A float tensor that several nodes use, stored once under `name` (a second request returns the first's; `values`
   * is computed only for the first).
   */
  sharedFloatInitializer(name: string, values: () => Float32Array, dims: readonly number[]): string {
    const key = `float ${name}`;
    let stored = this.sharedConstants.get(key);
    if (stored === undefined) this.sharedConstants.set(key, (stored = this.floatInitializer(name, values(), dims)));
    return stored;
  }

  /**
   * An int64 tensor stored in the model (shapes, axes, pads, indices); `dims` [] makes a scalar of one value. The same
   * values and dims are stored once, under the first request's name.
   */
  int64Initializer(prefix: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `int64 [${dims.join(',')}] ${values.join(',')}`;
    const stored = this.sharedConstants.get(key);
    if (stored !== undefined) return stored;
    const name = this.name(prefix);
    this.sharedConstants.set(key, name);
    const data = new BigInt64Array(values.map((value) => BigInt(value)));
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: ElementType.int64,
        rawData: new Uint8Array(data.buffer),
      }),
    );
    return name;
  }

  /** A float scalar constant, shared by every node that uses the same value. */
  scalar(value: number): string {
    const text = String(value);
    const key = `scalar ${text}`;
    let stored = this.sharedConstants.get(key);
    if (stored === undefined) {
      stored = this.floatInitializer(`const_${text.replace(/[^0-9a-z]/gi, '_')}`, Float32Array.of(value), []);
      this.sharedConstants.set(key, stored);
    }
    return stored;
  }


  /**
   * One node. `inputs` may contain '' for an omitted optional input. Returns the names of its outputs (one per
   * prefix in `outputs`).
   */
  nodeWithOutputs(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
  ): string[] {
    const outputNames = outputs.map((prefix) => this.name(prefix));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: [...inputs],
        output: outputNames,
        name: outputNames[0],
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return outputNames;
  }

  /** A node with one output, named from `output`. */
  node(opType: string, inputs: readonly string[], output: string, attributes: Readonly<Record<string, AttributeValue>> = {}): string {
    return this.nodeWithOutputs(opType, inputs, [output], attributes)[0]!;
  }

  /** The serialized model. */
  build(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: onnx.Version.IR_VERSION,
      producerName: 'gramstyle',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: onnx.GraphProto.create({
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: ElementType, shape: readonly Dimension[]): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  });
}

/** Integers are INT or INTS; a float is written { float: x } (a JavaScript number alone cannot say which it is). */
function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const Type = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: Type.INT, i: value };
  if (typeof value === 'string') return { name, type: Type.STRING, s: new TextEncoder().encode(value) };
  if ('float' in value) return { name, type: Type.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: Type.FLOATS, floats: [...value.floats] };
  return { name, type: Type.INTS, ints: [...value] };
}
