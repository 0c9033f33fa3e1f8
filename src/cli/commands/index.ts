import type { Command } from 'commander';
import { register as initModel } from './init-model.js';

/** Each command lives in its own file and adds itself to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [initModel];
