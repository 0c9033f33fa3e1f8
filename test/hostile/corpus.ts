/**
 * Hostile inputs: what a user mistypes and what an attacker plants in a repository, each with the
 * exact diagnostics `ftc check` must give. Big ones are generated here rather than checked in.
 */
import { schemas } from '../../src/schema/index.js';

export interface HostileCase {
  name: string;
  /** File name (the extension picks .ft or YAML). */
  file: string;
  text: string;
  /** Every diagnostic, as `line:column code message`, sorted as the compiler sorts them (`<dir>` is the workspace). */
  expected: string[];
  /** When set, there are this many diagnostics and `expected` lists the first ones. */
  count?: number;
}

const keys = (kind: string) => Object.keys(schemas[kind]!.properties).join(', ');
const header = 'pipeline p { seed = 1 }\n';
const TOO_DEEP = (what: string) => `${what} nest more than 64 levels deep here; a pipeline needs only a few levels, so this file is not read further.`;

export const HOSTILE: HostileCase[] = [
  {
    name: 'a key that is a catastrophic regular expression',
    file: 'redos.ft.yaml',
    text: 'pipeline:\n  name: p\n  seed: 1\nstages:\n  raw:\n    kind: data\n    source: "d.json"\n    "x_|((\\\\w|\\\\s|\\\\W)*)*": 1\n',
    expected: [
      "8:5 E0003 key 'x_|((\\w|\\s|\\W)*)*' is not an identifier (letters, digits, '_', '-', '.')",
      `8:5 E0102 data 'raw' has no key \`x_|((\\w|\\s|\\W)*)*\`. Known keys: ${keys('data')}.`,
    ],
  },
  {
    name: 'a key with an unbalanced parenthesis',
    file: 'paren.ft.yaml',
    text: 'pipeline:\n  name: p\n  seed: 1\nstages:\n  raw:\n    kind: data\n    source: "d.json"\n    "lr_(": 1\n',
    expected: [
      "8:5 E0003 key 'lr_(' is not an identifier (letters, digits, '_', '-', '.')",
      `8:5 E0102 data 'raw' has no key \`lr_(\`. Known keys: ${keys('data')}.`,
    ],
  },
  {
    name: '10,000 nested lists',
    file: 'lists.ft',
    text: `${header}data raw {\n  source = "d.json"\n  x = ${'['.repeat(10_000)}${']'.repeat(10_000)}\n}\n`,
    expected: [`4:${7 + 63} E0004 ${TOO_DEEP('Blocks and lists')}`], // the stage's block is the first level
  },
  {
    name: '10,000 nested blocks',
    file: 'blocks.ft',
    text: `${header}data raw {\n  source = "d.json"\n  x = ${'{ a = '.repeat(10_000)}1${' }'.repeat(10_000)}\n}\n`,
    expected: [`4:${7 + 63 * 6} E0004 ${TOO_DEEP('Blocks and lists')}`],
  },
  {
    name: 'deep YAML flow lists',
    file: 'flow.ft.yaml',
    text: `stages:\n  raw:\n    kind: data\n    x: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`,
    expected: [`4:${8 + 61} E0004 ${TOO_DEEP('YAML mappings and lists')}`], // stages, raw and raw's mapping are three levels
  },
  {
    name: 'deep YAML block mappings',
    file: 'block.ft.yaml',
    text: Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + '\n',
    expected: [`65:65 E0004 ${TOO_DEEP('YAML mappings and lists')}`],
  },
  {
    name: 'terminal escape sequences in names and strings',
    file: 'escape.ft',
    text: `${header}data raw { source = "\x1b]0;pwned\x07.json" }\n`,
    expected: [
      "2:21 E0301 data 'raw': source \"\x1b]0;pwned\x07.json\" does not exist (looked for <dir>/\x1b]0;pwned\x07.json); relative paths are relative to the pipeline file's directory.",
    ],
  },
  {
    name: 'JavaScript internals as names and keys',
    file: 'proto.ft',
    text: `${header}data __proto__ {\n  source = "d.json"\n  __proto__ = 1\n  constructor = 2\n  hasOwnProperty = 3\n}\n`,
    expected: [
      `4:3 E0102 data '__proto__' has no key \`__proto__\`. Known keys: ${keys('data')}.`,
      `5:3 E0102 data '__proto__' has no key \`constructor\`. Known keys: ${keys('data')}.`,
      `6:3 E0102 data '__proto__' has no key \`hasOwnProperty\`. Known keys: ${keys('data')}.`,
    ],
  },
  {
    name: 'a NUL byte in a path',
    file: 'nul.ft',
    text: `${header}data raw { source = "a\0b.json" }\n`,
    expected: ["2:21 E0352 data 'raw': source \"a\0b.json\" contains a NUL character, which no file name can hold; a file is expected."],
  },
  {
    name: '/dev/zero as a data source',
    file: 'zero.ft',
    text: `${header}data raw {\n  source = "/dev/zero"\n  format = jsonl\n}\n`,
    expected: [
      "3:12 E0352 data 'raw': source \"/dev/zero\" is a device (like /dev/zero or /dev/urandom), not a regular file; a file is expected.",
    ],
  },
  {
    name: 'an output onto the base model',
    file: 'overwrite.ft',
    text: `${header}data raw { source = "d.json" }\npreprocess pr {\n  input = raw\n  prompt = "{q}"\n  response = "{a}"\n}\ntokenizer tok {\n  input = pr\n  train = { vocab_size = 300 }\n}\nmodel m { path = "m" }\nlora l { model = m }\ntrainer sft {\n  model = l\n  data = tok\n  output = "m"\n}\n`,
    expected: [
      "17:12 E0350 trainer 'sft': output \"m\" is model 'm''s path \"m\"; ftc replaces its outputs, so an output must be a path of its own, apart from every input (e.g. output = \"sft-out\").",
    ],
  },
  {
    name: 'absurd training values',
    file: 'absurd.ft',
    text: `${header}data raw { source = "d.json" }\npreprocess pr {\n  input = raw\n  prompt = "{q}"\n  response = "{a}"\n}\ntokenizer tok {\n  input = pr\n  train = { vocab_size = 300 }\n}\nmodel m { path = "m" }\nlora l { model = m }\ntrainer sft {\n  model = l\n  data = tok\n  output = "out"\n  lr = 1e10\n  epochs = 1000000\n}\n`,
    expected: [
      "18:8 W0150 trainer 'sft': lr = 1e10 is probably a mistake: a learning rate above 1 makes AdamW diverge at once (the loss goes to ln(vocab) or NaN); LoRA fine-tuning uses 1e-5 to 1e-3, often 2e-4.",
      "19:12 W0150 trainer 'sft': epochs = 1000000 is probably a mistake: more than 1,000 passes over the data only memorises it and runs for days; 1 to 5 epochs is usual.",
    ],
  },
  {
    name: '30,000 one-character errors',
    file: 'many.ft',
    text: `${header}${'@\n'.repeat(30_000)}`,
    expected: ["2:1 E0001 unexpected character '@'", "3:1 E0001 unexpected character '@'"],
    count: 30_000,
  },
];
