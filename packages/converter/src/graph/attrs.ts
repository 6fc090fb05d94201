/** Reading GraphDef JSON attributes and tensor names. */
import type { AttrValueJson, NodeDefJson, DataTypeName } from './types.js';

/** "node:1" -> { node: "node", index: 1 }; "^node" (control input) -> control: true. */
export function parseTensorName(name: string): { node: string; index: number; control: boolean } {
  const control = name.startsWith('^');
  const bare = control ? name.slice(1) : name;
  const m = /^(.*):(\d+)$/.exec(bare);
  return m ? { node: m[1], index: Number(m[2]), control } : { node: bare, index: 0, control };
}

export function tensorKey(node: string, index: number): string {
  return index === 0 ? node : `${node}:${index}`;
}

/** Normalises "node:0" to "node". */
export function canonicalTensor(name: string): string {
  const p = parseTensorName(name);
  return tensorKey(p.node, p.index);
}

/** The data inputs of a node (control inputs dropped), canonicalised. */
export function dataInputs(node: NodeDefJson): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith('^')).map(canonicalTensor);
}

function attr(node: NodeDefJson, key: string): AttrValueJson | undefined {
  return node.attr?.[key];
}

export function attrInt(node: NodeDefJson, key: string, dflt: number): number {
  const a = attr(node, key);
  return a?.i !== undefined ? Number(a.i) : dflt;
}

export function attrFloat(node: NodeDefJson, key: string, dflt: number): number {
  const a = attr(node, key);
  return a?.f !== undefined ? Number(a.f) : dflt;
}

export function attrBool(node: NodeDefJson, key: string, dflt: boolean): boolean {
  const a = attr(node, key);
  return a?.b !== undefined ? Boolean(a.b) : dflt;
}

export function attrString(node: NodeDefJson, key: string, dflt: string): string {
  const a = attr(node, key);
  return a?.s !== undefined ? Buffer.from(a.s, 'base64').toString('utf8') : dflt;
}

export function attrIntList(node: NodeDefJson, key: string, dflt: number[]): number[] {
  const a = attr(node, key);
  return a?.list?.i ? a.list.i.map(Number) : dflt;
}

export function attrStringList(node: NodeDefJson, key: string): string[] {
  const a = attr(node, key);
  return (a?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

export function attrType(node: NodeDefJson, key: string): DataTypeName | undefined {
  return attr(node, key)?.type;
}
