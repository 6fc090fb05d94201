/**
 * Every public option has TSDoc (issue 14 §4): each property of each exported `...Options`
 * interface of the published entry points (their built typings, as editors show them to users)
 * carries a doc comment. Needs `npm run build` (npm test builds first).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = process.cwd();
const ENTRIES = [
  'packages/runtime/dist/index.d.ts', 'packages/runtime/dist/worker/client.d.ts', 'packages/eval/dist/index.d.ts',
  'packages/converter/dist/index.d.ts', 'packages/importer/dist/index.d.ts', 'packages/ops/dist/index.d.ts',
  'packages/ops/dist/backends/index.d.ts', 'packages/format/dist/index.d.ts',
].map((p) => join(ROOT, p));

test('each property of each exported *Options interface has a doc comment', () => {
  for (const e of ENTRIES) expect(existsSync(e)).toBe(true);
  const program = ts.createProgram(ENTRIES, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const undocumented: string[] = [];
  let checked = 0;
  for (const entry of ENTRIES) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    for (let s of checker.getExportsOfModule(module)) {
      if (s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s);
      if (!(s.flags & ts.SymbolFlags.Interface) || !/Options$/.test(s.name)) continue;
      for (const p of checker.getDeclaredTypeOfSymbol(s).getProperties()) {
        checked++;
        if (!ts.displayPartsToString(p.getDocumentationComment(checker)).trim()) undocumented.push(`${entry.slice(ROOT.length + 1)}: ${s.name}.${p.name}`);
      }
    }
  }
  expect(checked).toBeGreaterThan(100);
  expect([...new Set(undocumented)]).toEqual([]);
});
