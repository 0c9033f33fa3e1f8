import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FtcError } from '../../../src/errors.js';
import { stopTokenIds } from '../../../src/runtime/model/open.js';
import { tempDir } from '../../helpers.js';
import { tinyConfig } from './fixtures.js';

describe('stopTokenIds', () => {
  const noEos = tinyConfig({ eosTokenId: undefined, eosTokenIds: [] });

  it("prefers generation_config.json's eos ids, as transformers' generate does", () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [5, 7] }));
    assert.deepEqual(stopTokenIds(dir, tinyConfig(), 9), [5, 7]);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 4 }));
    assert.deepEqual(stopTokenIds(dir, noEos, 9), [4]);
  });

  it("falls back to config.json's ids, then to the tokenizer's EOS (a Qwen2 config with eos_token_id null)", () => {
    const dir = tempDir();
    assert.deepEqual(stopTokenIds(dir, tinyConfig(), 9), [2]);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: null, do_sample: true }));
    assert.deepEqual(stopTokenIds(dir, tinyConfig(), 9), [2]);
    assert.deepEqual(stopTokenIds(dir, noEos, 9), [9]);
    assert.deepEqual(stopTokenIds(dir, noEos), []);
  });

  it('ignores ids outside the vocabulary and reports a malformed file with its path', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [99, 3] }));
    assert.deepEqual(stopTokenIds(dir, tinyConfig(), 9), [3]);
    writeFileSync(join(dir, 'generation_config.json'), '{"eos_token_id": 3');
    assert.throws(() => stopTokenIds(dir, tinyConfig()), (e: unknown) => e instanceof FtcError && e.code === 'E_MODEL_CONFIG_INVALID' && e.where?.file === join(dir, 'generation_config.json'));
  });
});
