// Generates data/alpaca_sample.json, the shipped example dataset: Alpaca-style records
// {instruction, input, output} built from small hand-written tables, so the text is ours and
// the file is reproducible. Run: node data/make-alpaca-sample.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let state = 20240611;
function rand() {
  // mulberry32, as the preprocess stage uses: the same file on every machine
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });
const rec = (instruction, input, output) => ({ instruction, input, output });

const capitals = [
  ['France', 'Paris'], ['Japan', 'Tokyo'], ['Kenya', 'Nairobi'], ['Canada', 'Ottawa'], ['Brazil', 'Brasília'],
  ['Australia', 'Canberra'], ['Egypt', 'Cairo'], ['Norway', 'Oslo'], ['Peru', 'Lima'], ['India', 'New Delhi'],
  ['Spain', 'Madrid'], ['Vietnam', 'Hanoi'], ['Portugal', 'Lisbon'], ['Ghana', 'Accra'], ['Chile', 'Santiago'],
  ['Poland', 'Warsaw'], ['Turkey', 'Ankara'], ['Argentina', 'Buenos Aires'], ['Sweden', 'Stockholm'], ['Thailand', 'Bangkok'],
  ['Morocco', 'Rabat'], ['Ireland', 'Dublin'], ['Mexico', 'Mexico City'], ['Greece', 'Athens'], ['New Zealand', 'Wellington'],
];
const antonyms = [
  ['happy', 'sad'], ['hot', 'cold'], ['early', 'late'], ['strong', 'weak'], ['ancient', 'modern'], ['generous', 'stingy'],
  ['brave', 'cowardly'], ['narrow', 'wide'], ['quiet', 'loud'], ['empty', 'full'], ['rough', 'smooth'], ['victory', 'defeat'],
  ['accept', 'refuse'], ['increase', 'decrease'], ['shallow', 'deep'], ['rare', 'common'], ['tidy', 'messy'], ['arrive', 'depart'],
  ['heavy', 'light'], ['visible', 'invisible'], ['expand', 'shrink'], ['fragile', 'sturdy'],
];
const synonyms = [
  ['big', 'large'], ['quick', 'fast'], ['begin', 'start'], ['smart', 'clever'], ['tired', 'exhausted'], ['angry', 'furious'],
  ['simple', 'easy'], ['shout', 'yell'], ['gift', 'present'], ['happy', 'cheerful'], ['odd', 'strange'], ['calm', 'peaceful'],
];
const units = [
  ['kilometers', 'meters', 1000], ['meters', 'centimeters', 100], ['hours', 'minutes', 60], ['minutes', 'seconds', 60],
  ['kilograms', 'grams', 1000], ['liters', 'milliliters', 1000], ['days', 'hours', 24], ['weeks', 'days', 7],
  ['feet', 'inches', 12], ['yards', 'feet', 3],
];
const pastTense = [
  ['She walks to school every morning.', 'She walked to school every morning.'],
  ['We plant tomatoes in the garden.', 'We planted tomatoes in the garden.'],
  ['The train leaves at noon.', 'The train left at noon.'],
  ['He writes a letter to his aunt.', 'He wrote a letter to his aunt.'],
  ['They sing in the choir.', 'They sang in the choir.'],
  ['I buy bread at the corner shop.', 'I bought bread at the corner shop.'],
  ['The cat sleeps on the warm windowsill.', 'The cat slept on the warm windowsill.'],
  ['Our team wins the final match.', 'Our team won the final match.'],
  ['The river floods the valley each spring.', 'The river flooded the valley each spring.'],
  ['My brother teaches me to swim.', 'My brother taught me to swim.'],
];
const passive = [
  ['The chef cooked the meal.', 'The meal was cooked by the chef.'],
  ['A storm damaged the old barn.', 'The old barn was damaged by a storm.'],
  ['The students painted the mural.', 'The mural was painted by the students.'],
  ['The mayor opened the new bridge.', 'The new bridge was opened by the mayor.'],
  ['Our neighbor fixed the fence.', 'The fence was fixed by our neighbor.'],
  ['The committee approved the plan.', 'The plan was approved by the committee.'],
  ['A young engineer designed the engine.', 'The engine was designed by a young engineer.'],
  ['The wind scattered the leaves.', 'The leaves were scattered by the wind.'],
];
const formal = [
  ["Hey, can you send me the file?", 'Could you please send me the file?'],
  ["I can't make it to the meeting.", 'Unfortunately, I will not be able to attend the meeting.'],
  ['Thanks a lot for the help!', 'Thank you very much for your assistance.'],
  ['The report is gonna be late.', 'The report will be delayed.'],
  ["What's the price of this?", 'Could you tell me the price of this item?'],
  ['Let me know when you are free.', 'Please let me know when you are available.'],
];
const reviews = [
  ['The soup was cold and bland.', 'Negative'], ['Friendly staff and a lovely view from our room.', 'Positive'],
  ['The battery died after two days.', 'Negative'], ['This is the most comfortable chair I have owned.', 'Positive'],
  ['Delivery was late and the box was crushed.', 'Negative'], ['The film had me smiling from start to finish.', 'Positive'],
  ['The instructions were confusing and incomplete.', 'Negative'], ['Great value for the price, I would buy it again.', 'Positive'],
  ['The app crashes every time I open it.', 'Negative'], ['Our guide was funny and knew every corner of the city.', 'Positive'],
  ['The coffee tasted burnt.', 'Negative'], ['The garden was peaceful and beautifully kept.', 'Positive'],
];
const animals = [
  ['dolphin', 'mammal'], ['eagle', 'bird'], ['salmon', 'fish'], ['lizard', 'reptile'], ['bat', 'mammal'], ['penguin', 'bird'],
  ['shark', 'fish'], ['turtle', 'reptile'], ['whale', 'mammal'], ['owl', 'bird'], ['crocodile', 'reptile'], ['tuna', 'fish'],
];
const lists = [
  ['List three fruits that are usually red.', 'Strawberries, cherries and raspberries.'],
  ['Name three planets in our solar system.', 'Mars, Jupiter and Venus.'],
  ['List three tools a carpenter uses.', 'A hammer, a saw and a chisel.'],
  ['Name three instruments in an orchestra.', 'The violin, the flute and the trumpet.'],
  ['List three ways to save water at home.', 'Take shorter showers, fix leaking taps and water plants in the evening.'],
  ['Name three primary colors.', 'Red, blue and yellow.'],
  ['List three things to pack for a beach trip.', 'Sunscreen, a towel and a bottle of water.'],
  ['Give three tips for better sleep.', 'Keep a regular bedtime, avoid screens before bed and keep the room dark.'],
  ['Name three vegetables that grow underground.', 'Carrots, potatoes and beets.'],
  ['List three renewable sources of energy.', 'Solar, wind and hydroelectric power.'],
  ['Name three sports played with a ball.', 'Football, tennis and basketball.'],
  ['List three habits that help when studying.', 'Take short breaks, study at a set time and test yourself often.'],
];
const definitions = [
  ['photosynthesis', 'Photosynthesis is the process by which plants use sunlight, water and carbon dioxide to make sugar and release oxygen.'],
  ['a noun', 'A noun is a word that names a person, place, thing or idea.'],
  ['gravity', 'Gravity is the force that pulls objects toward each other, such as a dropped apple toward the Earth.'],
  ['a prime number', 'A prime number is a whole number greater than 1 whose only divisors are 1 and itself.'],
  ['evaporation', 'Evaporation is the change of a liquid into a gas, such as water drying in the sun.'],
  ['a budget', 'A budget is a plan for how much money you expect to earn and spend over a period of time.'],
  ['an ecosystem', 'An ecosystem is a community of living things together with the environment they share.'],
  ['a verb', 'A verb is a word that describes an action or a state, such as run or be.'],
  ['erosion', 'Erosion is the slow wearing away of rock and soil by wind, water or ice.'],
  ['a metaphor', 'A metaphor describes something by saying it is something else, as in "time is a thief".'],
];
const colors = [
  ['blue', 'yellow', 'green'], ['red', 'yellow', 'orange'], ['red', 'blue', 'purple'], ['red', 'white', 'pink'],
  ['black', 'white', 'gray'], ['blue', 'white', 'light blue'],
];
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const plurals = [
  ['child', 'children'], ['mouse', 'mice'], ['knife', 'knives'], ['city', 'cities'], ['tooth', 'teeth'], ['box', 'boxes'],
  ['goose', 'geese'], ['leaf', 'leaves'], ['cactus', 'cacti'], ['woman', 'women'],
];
const sentences = [
  'The old lighthouse still guides ships at night.', 'Bright kites filled the sky above the park.',
  'My grandmother bakes bread every Sunday.', 'A small boat drifted slowly across the lake.',
  'Learning a new language takes patience and practice.', 'The library opens at nine in the morning.',
  'Fresh snow covered the quiet village.', 'He fixed the bicycle with a borrowed wrench.',
];

const makers = [
  () => { const a = int(2, 99), b = int(2, 99); return rec('Add the two numbers.', `${a} and ${b}`, `The sum of ${a} and ${b} is ${a + b}.`); },
  () => { const a = int(20, 200), b = int(1, 19); return rec(`What is ${a} minus ${b}?`, '', `${a} minus ${b} is ${a - b}.`); },
  () => { const a = int(2, 12), b = int(2, 12); return rec(`What is ${a} times ${b}?`, '', `${a} times ${b} is ${a * b}.`); },
  () => { const b = int(2, 9), q = int(2, 12); return rec('Divide the first number by the second.', `${b * q} and ${b}`, `${b * q} divided by ${b} is ${q}.`); },
  () => { const [from, to, f] = pick(units), n = int(2, 15); return rec(`Convert ${n} ${from} to ${to}.`, '', `${n} ${from} is ${fmt(n * f)} ${to}.`); },
  () => { const c = int(-10, 40); return rec(`Convert ${c} degrees Celsius to Fahrenheit.`, '', `${c} °C is ${fmt(c * 9 / 5 + 32)} °F.`); },
  () => { const [w, o] = pick(antonyms); return rec(`What is the opposite of the word "${w}"?`, '', `The opposite of "${w}" is "${o}".`); },
  () => { const [w, s] = pick(synonyms); return rec('Give a synonym for the word.', w, `A synonym for "${w}" is "${s}".`); },
  () => { const [c, k] = pick(capitals); return rec(`What is the capital of ${c}?`, '', `The capital of ${c} is ${k}.`); },
  () => { const [c, k] = pick(capitals); return rec('Name the country whose capital is given.', k, `${k} is the capital of ${c}.`); },
  () => { const [s, p] = pick(pastTense); return rec('Rewrite the sentence in the past tense.', s, p); },
  () => { const [s, p] = pick(passive); return rec('Rewrite the sentence in the passive voice.', s, p); },
  () => { const [s, p] = pick(formal); return rec('Rewrite this message in a more formal tone.', s, p); },
  () => { const [r, l] = pick(reviews); return rec('Classify the sentiment of the review as Positive or Negative.', r, `${l}.`); },
  () => { const [a, k] = pick(animals); return rec(`Is a ${a} a mammal, bird, fish or reptile?`, '', `A ${a} is a ${k}.`); },
  () => { const [q, a] = pick(lists); return rec(q, '', a); },
  () => { const [t, d] = pick(definitions); return rec(`Explain what ${t} is in one sentence.`, '', d); },
  () => { const [a, b, c] = pick(colors); return rec(`What color do you get by mixing ${a} and ${b}?`, '', `Mixing ${a} and ${b} gives ${c}.`); },
  () => { const i = int(0, 6); return rec(`Which day comes after ${days[i]}?`, '', `${days[(i + 1) % 7]} comes after ${days[i]}.`); },
  () => { const [s, p] = pick(plurals); return rec(`What is the plural of "${s}"?`, '', `The plural of "${s}" is "${p}".`); },
  () => { const a = int(10, 99), b = int(10, 99); return a === b ? rec(`Are ${a} and ${b} equal?`, '', `Yes, they are the same number.`) : rec(`Which is larger, ${a} or ${b}?`, '', `${Math.max(a, b)} is larger than ${Math.min(a, b)}.`); },
  () => { const n = int(1, 500); return rec('Is the number even or odd?', String(n), `${n} is ${n % 2 ? 'odd' : 'even'}.`); },
  () => { const s = pick(sentences), n = s.split(' ').length; return rec('Count the words in the sentence.', s, `The sentence has ${n} words.`); },
  () => { const xs = Array.from({ length: int(4, 6) }, () => int(1, 60)); return rec('Sort the numbers from smallest to largest.', xs.join(', '), [...xs].sort((a, b) => a - b).join(', ') + '.'); },
];

const records = [];
const seen = new Set();
while (records.length < 320) {
  const r = pick(makers)();
  if (r.input && rand() < 0.4) continue; // keep about a third of the records with an input, as in Alpaca
  const key = r.instruction + '\n' + r.input;
  if (seen.has(key)) continue;
  seen.add(key);
  records.push(r);
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'alpaca_sample.json');
writeFileSync(out, JSON.stringify(records, null, 1) + '\n');
const withInput = records.filter((r) => r.input).length;
console.log(`${out}: ${records.length} records, ${withInput} with input`);
