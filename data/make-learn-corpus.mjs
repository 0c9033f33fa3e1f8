// Generates data/learn_corpus.txt, the plain-text corpus `npm run example:learn` pretrains the tiny
// model on (full fine-tuning) before LoRA-tuning it on data/alpaca_sample.json. One sentence per
// line, in the words of the instruction data's topics (numbers, capitals, days, opposites, colors,
// animals) but never in its question-and-answer form: pretraining teaches the language, the LoRA
// stage the format. Seeded, so the file is the same on every machine. Run: node data/make-learn-corpus.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let state = 20261202;
function rand() {
  // mulberry32, as data/make-alpaca-sample.mjs
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const capitals = [
  ['France', 'Paris'], ['Japan', 'Tokyo'], ['Kenya', 'Nairobi'], ['Canada', 'Ottawa'], ['Australia', 'Canberra'], ['Egypt', 'Cairo'],
  ['Norway', 'Oslo'], ['Peru', 'Lima'], ['Spain', 'Madrid'], ['Vietnam', 'Hanoi'], ['Portugal', 'Lisbon'], ['Ghana', 'Accra'],
  ['Chile', 'Santiago'], ['Poland', 'Warsaw'], ['Turkey', 'Ankara'], ['Sweden', 'Stockholm'], ['Thailand', 'Bangkok'], ['Greece', 'Athens'],
];
const opposites = [['happy', 'sad'], ['hot', 'cold'], ['early', 'late'], ['strong', 'weak'], ['narrow', 'wide'], ['quiet', 'loud'],
  ['empty', 'full'], ['heavy', 'light'], ['shallow', 'deep'], ['rare', 'common'], ['tidy', 'messy'], ['arrive', 'depart']];
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const animals = [['dog', 'mammal'], ['whale', 'mammal'], ['eagle', 'bird'], ['penguin', 'bird'], ['salmon', 'fish'], ['shark', 'fish'],
  ['lizard', 'reptile'], ['turtle', 'reptile'], ['horse', 'mammal'], ['owl', 'bird']];
const colors = [['red', 'blue', 'purple'], ['blue', 'yellow', 'green'], ['red', 'yellow', 'orange'], ['black', 'white', 'gray']];

const sentences = [
  () => { const a = int(10, 99), b = int(10, 99); return a === b ? `${a} and ${a} are the same number.` : `The number ${Math.max(a, b)} is bigger than the number ${Math.min(a, b)}.`; },
  () => { const a = int(2, 99), b = int(2, 99); return `If you add ${a} and ${b} you get ${a + b}.`; },
  () => { const a = int(2, 12), b = int(2, 12); return `${a} groups of ${b} make ${a * b}.`; },
  () => { const n = int(1, 500); return `The number ${n} is ${n % 2 ? 'odd' : 'even'}, and the next number is ${n + 1}.`; },
  () => { const [c, k] = pick(capitals); return pick([`${k} is the largest city people think of in ${c}, and it is the capital.`, `The government of ${c} sits in ${k}.`, `Many people from ${c} travel to ${k}.`]); },
  () => { const i = int(0, 6); return `After ${days[i]} comes ${days[(i + 1) % 7]}, and before it comes ${days[(i + 6) % 7]}.`; },
  () => { const [w, o] = pick(opposites); return `The word "${w}" means the opposite of the word "${o}".`; },
  () => { const [a, k] = pick(animals); return `Every ${a} is a ${k}.`; },
  () => { const [a, b, c] = pick(colors); return `When ${a} paint is mixed with ${b} paint, the paint turns ${c}.`; },
];

const lines = Array.from({ length: 2400 }, () => pick(sentences)());
const out = join(dirname(fileURLToPath(import.meta.url)), 'learn_corpus.txt');
writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${out}: ${lines.length} sentences`);
