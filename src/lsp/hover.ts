import type { Hover, Position } from 'vscode-languageserver';
import type { Analysis } from './analysis.js';
import { nodeAt, stagesByName } from './lookup.js';
import { toLspRange } from './positions.js';
import { keyMarkdown, keySchemaAt, kindMarkdown, stageSummary } from './schema-doc.js';

/** Hover: a kind's description, a key's documentation, or a summary of the stage a reference names. */
export function hover(a: Analysis, pos: Position): Hover | null {
  const hit = nodeAt(a.result.ast, pos);
  if (!hit) return null;
  const md = (value: string, range: Hover['range']): Hover => ({ contents: { kind: 'markdown', value }, range });
  switch (hit.type) {
    case 'kind': {
      const doc = kindMarkdown(hit.stage.kind);
      return doc ? md(doc, toLspRange(hit.stage.kindRange)) : null;
    }
    case 'name':
      return hit.stage.kind === 'pipeline' ? null : md(stageSummary(hit.stage), toLspRange(hit.stage.nameRange));
    case 'key': {
      const s = keySchemaAt(hit.stage.kind, hit.path);
      return s ? md(keyMarkdown(hit.stage.kind, hit.path, s), toLspRange(hit.entry.keyRange)) : null;
    }
    case 'value': {
      const s = keySchemaAt(hit.stage.kind, hit.path);
      if (!s) return null;
      const range = toLspRange(hit.value.range);
      if (s['x-ref'] && hit.value.type === 'ident') {
        const target = stagesByName(a.result.ast).get(hit.value.name);
        return md(target ? stageSummary(target) : `No stage is named \`${hit.value.name}\`.`, range);
      }
      return md(keyMarkdown(hit.stage.kind, hit.path, s), range);
    }
  }
}
