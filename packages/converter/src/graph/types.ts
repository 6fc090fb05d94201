/** The graph-model JSON types live in @tfjs-mbq/format (the one home of the on-disk format). */
export type {
  DataTypeName, TensorShapeJson, TensorJson, AttrValueJson, NodeDefJson, GraphDefJson,
  WeightDtype, ManifestDtype, WeightEntryJson, WeightsManifestGroupJson, ModelJson,
} from '@tfjs-mbq/format';
