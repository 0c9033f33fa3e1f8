import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { FtcError } from '../errors.js';
import { schemas } from '../schema/index.js';
import { hashJson } from './canonical-json.js';
import type { JsonValue, PipelineIR, Plan, PlanStage } from './ir.js';

export interface PlanOptions {
  /** Hashes a path (absolute) to hex; tests and the runtime may swap in their own. */
  hashPath?: (absPath: string) => Promise<string>;
}

/**
 * Cache keys for every stage: sha256 of canonical JSON of exactly what determines its output —
 * kind, schema version, the parameters that matter (x-cache: false keys left out), the keys of its
 * upstream stages, and the content hashes of the files it reads. References enter as the upstream
 * stage's key, not its name, so renaming a stage does not invalidate its cache. Paths enter as
 * written, never made absolute, so a clone elsewhere has the same keys (an absolute path stays the same
 * string wherever the pipeline is).
 */
export async function planPipeline(ir: PipelineIR, opts: PlanOptions = {}): Promise<Plan> {
  const hashPath = opts.hashPath ?? hashPathContent;
  const keys = new Map<string, string>();
  const stages: PlanStage[] = [];
  for (const s of ir.stages) {
    const schema = schemas[s.kind]!;
    const fileHashes: { [path: string]: string } = {};
    // resolve, not join: an absolute path is used as written, as check and the stages do.
    for (const f of s.files) fileHashes[f] = await hashPath(resolve(ir.dir, f));
    const upstreamKeys: { [name: string]: string } = {};
    for (const n of s.inputs) upstreamKeys[n] = keys.get(n)!;
    const keyParams: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(s.params)) {
      const ks = schema.properties[k]!;
      if (ks['x-cache'] === false) continue;
      keyParams[k] = ks['x-ref'] ? { stage: keys.get(v as string)! } : v;
    }
    const key = hashJson({ kind: s.kind, version: schema['x-version'], params: keyParams, files: fileHashes });
    keys.set(s.name, key);
    stages.push({ name: s.name, kind: s.kind, key, inputs: s.inputs, params: s.params, version: schema['x-version'], fileHashes, upstreamKeys });
  }
  return { pipeline: ir.name, seed: ir.seed, settings: ir.settings, stages };
}

/** One hash for the whole plan: changes exactly when some stage's key (or name) changes. */
export const planHash = (plan: Plan): string => hashJson(plan.stages.map((s) => [s.name, s.key]));

// Repeated plans (the language server, `ftc plan` then `ftc run`) rehash nothing unchanged.
const fileHashMemo = new Map<string, { stamp: string; hash: string }>();

async function hashFile(abs: string, size: number, mtimeMs: number): Promise<string> {
  const stamp = `${size}:${mtimeMs}`;
  const hit = fileHashMemo.get(abs);
  if (hit?.stamp === stamp) return hit.hash;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
  const hash = h.digest('hex');
  fileHashMemo.set(abs, { stamp, hash });
  return hash;
}

/**
 * sha256 of a file's bytes; for a directory, sha256 of canonical JSON {relative path: sha256} over
 * every regular file in it, recursively (paths with `/` whatever the OS).
 */
export async function hashPathContent(abs: string): Promise<string> {
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new FtcError('E0301', `${abs} does not exist`, { file: abs }, 'It was there when the pipeline was checked; was it moved or deleted?');
  if (st.isFile()) return hashFile(abs, st.size, st.mtimeMs);
  const listing: { [rel: string]: string } = {};
  for (const f of await filesUnder(abs)) {
    const fst = await stat(f);
    if (fst.isFile()) listing[relative(abs, f).split(sep).join('/')] = await hashFile(f, fst.size, fst.mtimeMs);
  }
  return hashJson(listing);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p); // files and symlinks; stat() follows links and keeps regular files
  }
  return out;
}
