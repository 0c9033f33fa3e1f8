import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import oniguruma from 'vscode-oniguruma';
import vsctm from 'vscode-textmate';
import { repoRoot } from './helpers.js';

/**
 * grammar/ft.tmLanguage.json loaded into the engine VS Code uses (vscode-textmate on the oniguruma
 * regex library), for the tests that check its scopes.
 */
export async function loadFtGrammar(): Promise<vsctm.IGrammar> {
  const wasm = readFileSync(join(repoRoot(), 'node_modules/vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const path = join(repoRoot(), 'grammar/ft.tmLanguage.json');
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (s: string[]) => new oniguruma.OnigScanner(s), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope: string) => (scope === 'source.ft' ? vsctm.parseRawGrammar(readFileSync(path, 'utf8'), path) : null),
  });
  const grammar = await registry.loadGrammar('source.ft');
  if (!grammar) throw new Error('grammar/ft.tmLanguage.json did not load as source.ft');
  return grammar;
}
