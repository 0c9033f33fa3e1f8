import type { Command } from 'commander';
import { register as cache } from './cache.js';
import { register as initModel } from './init-model.js';
import { register as run } from './run.js';
import { register as fmt } from './fmt.js';
import { register as convert } from './convert.js';
import { register as check } from './check.js';
import { register as plan } from './plan.js';
import { register as graph } from './graph.js';
import { register as lsp } from './lsp.js';
import { register as doctor } from './doctor.js';
import { register as generate } from './generate.js';
import { register as score } from './score.js';
import { register as exportCmd } from './export.js';
import { register as compile } from './compile.js';
import { register as show } from './show.js';

/** Each command lives in its own file and adds itself to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [initModel, run, cache, fmt, convert, check, plan, graph, doctor, lsp, generate, score, compile, exportCmd, show];
