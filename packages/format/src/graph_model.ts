/**
 * The JSON of a tfjs graph model (`model.json` with format `graph-model`): a TensorFlow GraphDef
 * in protobuf-JSON form plus the weights manifest. Only the fields tfjs-converter reads.
 */

export type DataTypeName = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL' | 'DT_INT64' | 'DT_STRING' | 'DT_HALF';

export interface TensorShapeJson { dim?: Array<{ size: string | number }>; unknownRank?: boolean }

export interface TensorJson {
  dtype: DataTypeName;
  tensorShape: TensorShapeJson;
  /** Small constants may be inlined; weights live in the shards. */
  intVal?: number[];
  floatVal?: number[];
}

export interface AttrValueJson {
  type?: DataTypeName;
  i?: string | number;
  f?: number;
  b?: boolean;
  s?: string; // base64
  shape?: TensorShapeJson;
  tensor?: TensorJson;
  list?: { i?: Array<string | number>; f?: number[]; type?: DataTypeName[]; s?: string[]; shape?: TensorShapeJson[] };
}

export interface NodeDefJson {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValueJson>;
  device?: string;
}

export interface GraphDefJson {
  node: NodeDefJson[];
  library?: Record<string, unknown>;
  versions?: { producer?: number; minConsumer?: number };
}

/** Dtypes of weights as typed arrays (what the converter decodes). */
export type WeightDtype = 'float32' | 'int32' | 'bool';
/**
 * Dtypes a manifest entry may declare: each has a fixed size, so shard sizes are checked before
 * reading. tfjs's variable-size `string` is refused for that reason.
 */
export type ManifestDtype = WeightDtype | 'complex64';

/** tfjs-converter's weight quantization (`--quantize_*`): the stored dtype differs from `dtype`. */
export interface WeightQuantizationJson { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number }

export interface WeightEntryJson {
  name: string;
  shape: number[];
  dtype: ManifestDtype;
  quantization?: WeightQuantizationJson;
}

export interface WeightsManifestGroupJson {
  paths: string[];
  weights: WeightEntryJson[];
}

export interface ModelJson {
  format: 'graph-model';
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: GraphDefJson;
  weightsManifest: WeightsManifestGroupJson[];
  signature?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}
