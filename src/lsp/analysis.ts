import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { compile, type CompileResult } from '../compiler/index.js';
import { isYamlFile } from '../compiler/parse.js';

/** One compile of one version of a document; every request on that version reuses it. */
export interface Analysis {
  doc: TextDocument;
  /** The version compiled: TextDocuments updates `doc` in place, so its own version moves on. */
  version: number;
  file: string;
  yaml: boolean;
  result: CompileResult;
}

/** The path the compiler sees: relative paths in the pipeline resolve against its directory. */
export function uriToFile(uri: string): string {
  if (uri.startsWith('file:')) return fileURLToPath(uri);
  // untitled: and other schemes have no directory; resolve against the server's working directory
  return resolve(decodeURIComponent(uri.replace(/^[a-z][a-z0-9+.-]*:(\/\/)?/i, '')) || 'untitled.ft');
}

export class Analyzer {
  private readonly cache = new Map<string, Analysis>();

  get(doc: TextDocument): Analysis {
    const hit = this.cache.get(doc.uri);
    if (hit && this.isCurrent(doc)) return hit;
    const file = uriToFile(doc.uri);
    const analysis: Analysis = { doc, version: doc.version, file, yaml: isYamlFile(file), result: compile(doc.getText(), file, { buildIr: false }) };
    this.cache.set(doc.uri, analysis);
    return analysis;
  }

  isCurrent(doc: TextDocument): boolean {
    const hit = this.cache.get(doc.uri);
    return hit !== undefined && hit.doc === doc && hit.version === doc.version;
  }

  forget(uri: string): void {
    this.cache.delete(uri);
  }
}
