import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformLossWarning } from '../../../src/runtime/train/uniform-loss.js';

test('a loss that stays at ln(vocab) warns, naming the value and the learning rate', () => {
  const lnV = Math.log(32000); // 10.3735
  assert.equal(uniformLossWarning([2.1, 9.8, lnV + 0.01, lnV - 0.02, lnV], 32000, 1e10),
    'the training loss stayed at 10.3735, which is ln(32000) = 10.3735: the loss of a uniform guess over the vocabulary, so the model learned nothing; a learning rate far too high (lr = 10000000000) is the usual cause');
});

test('a loss that falls, or one near ln(vocab) only once, does not warn', () => {
  const lnV = Math.log(256);
  assert.equal(uniformLossWarning([lnV, lnV * 0.97, lnV * 0.9], 256, 2e-4), undefined);
  assert.equal(uniformLossWarning([lnV, lnV], 256, 2e-4), undefined, 'fewer than three logged losses say nothing yet');
  assert.equal(uniformLossWarning([3, 2.5, 2], 256, 2e-4), undefined);
});
