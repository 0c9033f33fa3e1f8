import type { FileNode, StageNode } from '../ast.js';
import type { ValidationContext } from './context.js';
import { customTemplateNeedsPrompts, duplicateKeys, knownKind, requiredKeys, unknownKeys, vocabXorTrain } from './checks-keys.js';
import { duplicateStageNames, pipelineHeader, referenceCycles, references, unusedStages } from './checks-graph.js';
import { paths } from './checks-files.js';
import { chatTemplateFound, loraFitsModel, maxLengthWithinContext, modelConfigSupported, quantizationForTarget, tokenizerFitsModel, trainModulesNeedFullFinetuning } from './checks-model.js';
import { trainerFitsMemory } from './checks-memory.js';
import { checkValues } from './schema-values.js';
import { outputsApartFromInputs, outputsDistinct } from './checks-outputs.js';
import { plausibleValues, promptEndsInSpace } from './checks-plausible.js';

export type Check<N> = (node: N, ctx: ValidationContext) => void;

/**
 * Every validation rule, keyed by the node it looks at. Adding a rule is one line here.
 * `*` runs on every block (the header included); a kind's list runs on blocks of that kind.
 * Stage checks run before file checks: `unusedStages` reads what `references` recorded.
 */
export const stageChecks: Readonly<Record<string, readonly Check<StageNode>[]>> = {
  '*': [knownKind, unknownKeys, duplicateKeys, requiredKeys, checkValues, references, paths, plausibleValues],
  preprocess: [customTemplateNeedsPrompts, chatTemplateFound, promptEndsInSpace],
  tokenizer: [vocabXorTrain],
  model: [modelConfigSupported],
  lora: [loraFitsModel, quantizationForTarget],
  trainer: [maxLengthWithinContext, tokenizerFitsModel, trainModulesNeedFullFinetuning, trainerFitsMemory],
};

export const fileChecks: readonly Check<FileNode>[] = [pipelineHeader, duplicateStageNames, referenceCycles, unusedStages, outputsApartFromInputs, outputsDistinct];
