/** Which graph inputs are the token ids and the pixels, and which tensor is the logits output. */
import type { GraphDefJson } from './types.js';
import { ConversionError } from '../io/errors.js';
import { dataInputs } from './attrs.js';

export interface ModelIo {
  inputIds: string;
  pixelValues: string;
  logits: string;
}

export function findModelIo(graph: GraphDefJson, file: string): ModelIo {
  const placeholders = graph.node.filter((n) => n.op === 'Placeholder');
  const ints = placeholders.filter((n) => n.attr?.dtype?.type === 'DT_INT32' || n.attr?.dtype?.type === 'DT_INT64');
  const floats = placeholders.filter((n) => (n.attr?.dtype?.type ?? 'DT_FLOAT') === 'DT_FLOAT');
  if (ints.length !== 1 || floats.length !== 1) {
    throw new ConversionError('GRAPH_ANALYSIS',
      `${file}: expected two graph inputs, int32 token ids and float32 pixels; found ${placeholders.map((p) => `"${p.name}" (${p.attr?.dtype?.type ?? '?'})`).join(', ') || 'none'}`, file);
  }
  const used = new Set(graph.node.flatMap((n) => dataInputs(n).map((t) => t.replace(/:\d+$/, ''))));
  const sinks = graph.node.filter((n) => n.op !== 'Const' && n.op !== 'NoOp' && !used.has(n.name));
  const named = sinks.find((n) => n.name === 'logits');
  if (!named && sinks.length !== 1) {
    throw new ConversionError('GRAPH_ANALYSIS', `${file}: expected one output (logits); the graph ends in ${sinks.map((s) => `"${s.name}"`).join(', ') || 'nothing'}`, file);
  }
  return { inputIds: ints[0].name, pixelValues: floats[0].name, logits: (named ?? sinks[0]).name };
}
