/**
 * A tokenizer worker (worker_threads): its own copy of the tokenizer, the stage's RowTokenizer, and
 * one reply per batch, in the order asked. See pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { tokenizerFromJson } from './load.js';
import { wireError, type FromWorker, type ToWorker, type WorkerSetup } from './pool.js';
import { RowTokenizer } from './rows.js';

const setup = workerData as WorkerSetup;
// The tokenizer.json is parsed once here, by the library; what ftc needs from it came with the rules.
const rows = new RowTokenizer(tokenizerFromJson(setup.json), setup.rules);
const port = parentPort!;

// One batch at a time: the word cache is this worker's own, and the pool keeps every worker busy.
let queue = Promise.resolve();
port.on('message', (msg: ToWorker) => {
  queue = queue.then(() => reply(msg));
});

function reply(msg: ToWorker): Promise<void> {
  return rows.tokenize(msg.batch).then(
    (result) => {
      const reply: FromWorker = { id: msg.id, result };
      port.postMessage(reply, [result.lengths.buffer, result.ids.buffer, result.labels.buffer] as ArrayBuffer[]);
    },
    (e: unknown) => port.postMessage({ id: msg.id, error: wireError(e) } satisfies FromWorker),
  );
}
