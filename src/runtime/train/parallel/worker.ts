/**
 * A data-parallel training worker (worker_threads): its own tfjs backend, its own frozen copy of the model,
 * and per step the adapter gradients of its shares, computed by the trainer's own step code (step.ts).
 * It never updates parameters itself: the main thread sends the current adapter with every step.
 */
import { parentPort } from 'node:worker_threads';
import { FtcError } from '../../../errors.js';
import * as tf from '../../tf.js';
import { initBackend, type BackendPreference } from '../../backend.js';
import { installWasmKernels } from '../../kernels/index.js';
import type { CausalLM } from '../../model/api.js';
import { createCausalLM, loadCausalLM } from '../../model/causal-lm.js';
import { localGradients, type StepOptions } from '../step.js';
import { toHost } from './allreduce.js';
import type { FromWorker, ModelSource, ToWorker, WireError } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('parallel/worker.js runs only as a worker thread');

let model: CausalLM | undefined;
let stepOptions: StepOptions = {};

port.on('message', (msg: ToWorker) => {
  // Messages are handled one at a time: init is awaited by the pool before any step is sent.
  void handle(msg).catch((e: unknown) => send({ type: 'error', id: msg.type === 'step' ? msg.id : undefined, error: wireError(e) }));
});

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'init') {
    await initBackend(msg.backend as BackendPreference);
    installWasmKernels(); // a no-op off wasm
    model = build(msg.source);
    stepOptions = msg.step ?? {};
    send({ type: 'ready' });
    return;
  }
  if (!model) throw new Error('step before init');
  const params = model.adapterParams();
  tf.tidy(() => {
    for (const [name, data] of Object.entries(msg.params)) {
      const v = params.get(name);
      if (!v) throw new Error(`the main thread sent ${name}, which is not an adapter parameter of this worker's model`);
      v.assign(tf.tensor(data, v.shape, 'float32'));
    }
  });
  const { grads, loss } = localGradients(model, msg.shares, stepOptions);
  const host = toHost(grads);
  const lossValue = loss.dataSync()[0]!; // host sync: leaving the thread
  tf.dispose([...Object.values(grads), loss]);
  send({ type: 'grads', id: msg.id, grads: host.grads, loss: lossValue }, host.transfer);
}

function build(source: ModelSource): CausalLM {
  return 'dir' in source
    ? loadCausalLM(source.dir, { lora: source.lora, full: source.full, quantizedBase: source.quantizedBase, streamQuantized: source.streamQuantized })
    : createCausalLM(source.config, source.weights, source.lora, { full: source.full });
}

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function wireError(e: unknown): WireError {
  if (e instanceof FtcError) return { message: e.message, code: e.code, where: e.where, hint: e.hint };
  if (e instanceof Error) return { message: e.message, stack: e.stack };
  return { message: String(e) };
}
