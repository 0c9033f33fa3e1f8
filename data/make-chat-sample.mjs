// Generates data/chat_sample.jsonl, the chat example for pipelines/chat-qlora.ft: conversations
// {messages: [{role, content}]} built from small hand-written tables, some of several turns, so the
// text is ours and the file is reproducible. Run: node data/make-chat-sample.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const capitals = [
  ['France', 'Paris'], ['Japan', 'Tokyo'], ['Kenya', 'Nairobi'], ['Canada', 'Ottawa'], ['Peru', 'Lima'],
  ['Norway', 'Oslo'], ['Egypt', 'Cairo'], ['Ghana', 'Accra'], ['Chile', 'Santiago'], ['Poland', 'Warsaw'],
];
const antonyms = [['happy', 'sad'], ['hot', 'cold'], ['early', 'late'], ['strong', 'weak'], ['ancient', 'modern'], ['loud', 'quiet']];
const user = (content) => ({ role: 'user', content });
const assistant = (content) => ({ role: 'assistant', content });
const system = { role: 'system', content: 'You are a concise assistant.' };

const records = [];
for (const [country, city] of capitals) {
  records.push({ messages: [user(`What is the capital of ${country}?`), assistant(`The capital of ${country} is ${city}.`)] });
}
for (const [word, opposite] of antonyms) {
  records.push({ messages: [system, user(`Give the opposite of "${word}".`), assistant(`"${opposite}"`)] });
}
for (let a = 3; a <= 15; a += 3) {
  records.push({
    messages: [
      user(`What is ${a} plus ${a + 4}?`), assistant(`${a} plus ${a + 4} is ${2 * a + 4}.`),
      user('And doubled?'), assistant(`Doubled, it is ${2 * (2 * a + 4)}.`),
    ],
  });
}
const file = join(dirname(fileURLToPath(import.meta.url)), 'chat_sample.jsonl');
writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
process.stdout.write(`wrote ${records.length} conversations to ${file}\n`);
