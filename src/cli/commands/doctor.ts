import { availableParallelism, cpus, totalmem } from 'node:os';
import { type Command, Option } from 'commander';
import type { BackendAttempt, BackendPreference } from '../../runtime/backend.js';

const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

interface DoctorReport {
  node: string;
  platform: string;
  cores: number;
  cpu: string;
  memory_gb: number;
  wasm: { simd: boolean; threads: boolean };
  backend: { name: string; detail: string };
  backends: Array<{ name: string; status: 'in use' | 'failed' | 'not tried'; reason: string }>;
}

/** `ftc doctor`: which tensor backend runs, why the others did not, and what this machine offers. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('Show the TensorFlow.js backend in use, why the others did not load, and the machine (Node, cores, wasm SIMD/threads)')
    .addOption(new Option('--backend <name>', 'backend to try instead of the automatic order').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o: { backend: BackendPreference; format: 'text' | 'json' }) => {
      const report = await diagnose(o.backend);
      process.stdout.write(o.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    });
}

export async function diagnose(preference: BackendPreference): Promise<DoctorReport> {
  // Loaded on use: tfjs takes a second to import, and most commands never need it.
  const { initBackend } = await import('../../runtime/backend.js');
  const choice = await initBackend(preference);
  const tried = new Map<string, BackendAttempt>(choice.tried.map((t) => [t.name, t]));
  const inUse = tried.get(choice.name)!;
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    wasm: { simd: wasmSimd(), threads: wasmThreads() },
    backend: { name: choice.name, detail: inUse.reason },
    backends: BACKENDS.map((name) => {
      const t = tried.get(name);
      if (!t) {
        const why = preference === 'auto' ? `not tried: ${choice.name} comes first and loaded` : `not tried: --backend ${preference} was asked for`;
        return { name, status: 'not tried' as const, reason: why };
      }
      return { name, status: t.ok ? ('in use' as const) : ('failed' as const), reason: t.reason };
    }),
  };
}

function formatReport(r: DoctorReport): string {
  const lines = [
    `backend:  ${r.backend.name} (${r.backend.detail})`,
    '',
    'backends, in the order auto tries them:',
    ...r.backends.map((b) => `  ${b.status === 'in use' ? '*' : ' '} ${b.name.padEnd(15)} ${b.status === 'in use' ? 'in use' : b.reason}`),
    '',
    `node:     ${r.node} on ${r.platform}`,
    `cores:    ${r.cores} (${r.cpu})`,
    `memory:   ${r.memory_gb} GiB`,
    `wasm:     SIMD ${r.wasm.simd ? 'yes' : 'no'}, threads ${r.wasm.threads ? 'yes' : 'no'}`,
  ];
  return lines.join('\n') + '\n';
}

/** The bits of the WebAssembly global used here (the project's lib settings do not declare it). */
const wasmApi = (globalThis as unknown as {
  WebAssembly: { validate(b: Uint8Array): boolean; Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBufferLike } };
}).WebAssembly;

/** A module whose only function uses a v128 instruction: it validates exactly when the engine has wasm SIMD. */
function wasmSimd(): boolean {
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  return wasmApi.validate(bytes);
}

/** wasm threads need shared memory (SharedArrayBuffer behind a shared WebAssembly.Memory). */
function wasmThreads(): boolean {
  try {
    return new wasmApi.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}
