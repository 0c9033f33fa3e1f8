/**
 * A bitsandbytes 4-bit weight as transformers saves a quantized model (Linear4bit's state dict, flattened by
 * QuantState.as_dict(packed=True)): for a weight `W` (e.g. `model.layers.0.self_attn.q_proj.weight`)
 *
 *   W                                    U8  [ceil(n/2), 1]  packed codes
 *   W.absmax                             F32 [blocks]        (U8 when double-quantized: the 8-bit codes)
 *   W.quant_map                          F32 [16]            the 4-bit code
 *   W.nested_absmax                      F32 [ceil(blocks/256)]   double quantization only
 *   W.nested_quant_map                   F32 [256]                double quantization only
 *   W.quant_state.bitsandbytes__<type>   U8  JSON {quant_type, blocksize, dtype, shape,
 *                                                  nested_blocksize, nested_dtype, nested_offset}
 *
 * Reading one back gives the Quantized4bit that quantize4bit would have produced, so a pre-quantized checkpoint
 * can be used without re-quantizing; ftc writes its own quantized base (the lora stage's cached artifact) the same way.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { FtcError } from '../../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import { readSafetensorsHeader } from '../model/safetensors.js';
import { NESTED_BLOCKSIZE, type QuantType, type Quantized4bit } from './quantize4bit.js';
import { elementCount } from '../../model-spec/shape.js';

/** A tensor's raw little-endian bytes, as safetensors stores them. */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

const STATE_KEY = /\.quant_state\.bitsandbytes__(nf4|fp4)$/;

/** The names of the 4-bit weights among a checkpoint's tensor names (those with a packed quant_state). */
export function quantizedWeightNames(tensorNames: Iterable<string>): string[] {
  return [...tensorNames].filter((n) => STATE_KEY.test(n)).map((n) => n.replace(STATE_KEY, ''));
}

/** Reads the tensors `keep` accepts from a safetensors file without converting their dtype. */
export function readRawTensors(file: string, keep: (name: string) => boolean): Map<string, RawTensor> {
  const header = readSafetensorsHeader(file);
  const out = new Map<string, RawTensor>();
  const fd = openSync(file, 'r');
  try {
    for (const [name, t] of header.tensors) {
      if (!keep(name)) continue;
      const bytes = new Uint8Array(t.end - t.begin);
      let done = 0;
      while (done < bytes.length) {
        const n = readSync(fd, bytes, done, bytes.length - done, t.begin + done);
        if (n === 0) throw new FtcError('E_SAFETENSORS_TRUNCATED', `tensor "${name}" runs past the end of ${file}`, { file });
        done += n;
      }
      out.set(name, { dtype: t.dtype, shape: t.shape, bytes });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function f32(t: RawTensor): Float32Array {
  return new Float32Array(t.bytes.slice().buffer);
}

interface PackedState {
  quant_type: QuantType;
  blocksize: number;
  shape: number[];
  nested_blocksize?: number;
  nested_offset?: number;
}

/** The 4-bit weight `weight` rebuilt from its checkpoint tensors; `file` names the source in errors. */
export function quantizedFromTensors(weight: string, tensors: Map<string, RawTensor>, file: string): Quantized4bit {
  const bad = (what: string): FtcError =>
    new FtcError('E_BNB_QUANT_STATE', `4-bit weight "${weight}": ${what}`, { file },
      'the checkpoint should be saved by transformers from a model loaded with BitsAndBytesConfig(load_in_4bit=True)');
  const get = (suffix: string, dtype: string): RawTensor => {
    const t = tensors.get(weight + suffix);
    if (!t) throw bad(`missing tensor "${weight + suffix}"`);
    if (t.dtype !== dtype) throw bad(`"${weight + suffix}" is ${t.dtype}, expected ${dtype}`);
    return t;
  };
  const stateName = [...tensors.keys()].find((n) => n.startsWith(`${weight}.quant_state.`) && STATE_KEY.test(n));
  if (!stateName) throw bad('no quant_state.bitsandbytes__nf4/fp4 tensor');
  let state: PackedState;
  try {
    state = JSON.parse(Buffer.from(get(stateName.slice(weight.length), 'U8').bytes).toString('utf8')) as PackedState;
  } catch (e) {
    if (e instanceof FtcError) throw e;
    throw bad('its quant_state is not JSON');
  }
  const n = Array.isArray(state.shape) ? elementCount(state.shape) : NaN;
  if ((state.quant_type !== 'nf4' && state.quant_type !== 'fp4') || !Number.isInteger(state.blocksize) || !Number.isInteger(n))
    throw bad('its quant_state lacks quant_type, blocksize or shape');
  const packed = get('', 'U8').bytes;
  if (packed.length !== Math.ceil(n / 2)) throw bad(`${packed.length} packed bytes for ${n} values`);
  const blocks = Math.ceil(n / state.blocksize);
  const q: Quantized4bit = { quantType: state.quant_type, shape: state.shape, blocksize: state.blocksize, packed, code: f32(get('.quant_map', 'F32')) };
  if (state.nested_offset !== undefined) {
    if (state.nested_blocksize !== NESTED_BLOCKSIZE) throw bad(`nested block size ${state.nested_blocksize}, expected ${NESTED_BLOCKSIZE}`);
    const codes = get('.absmax', 'U8').bytes;
    const absmax2 = f32(get('.nested_absmax', 'F32'));
    if (codes.length !== blocks || absmax2.length !== Math.ceil(blocks / NESTED_BLOCKSIZE)) throw bad('absmax sizes do not match its shape');
    q.nested = { codes, absmax2, offset: Math.fround(state.nested_offset), code: f32(get('.nested_quant_map', 'F32')), blocksize: NESTED_BLOCKSIZE };
  } else {
    q.absmax = f32(get('.absmax', 'F32'));
    if (q.absmax.length !== blocks) throw bad('absmax size does not match its shape');
  }
  return q;
}

function rawF32(a: Float32Array): RawTensor {
  return { dtype: 'F32', shape: [a.length], bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) };
}

/** The checkpoint tensors of 4-bit weight `weight`, as Linear4bit's state dict holds them (inverse of quantizedFromTensors). */
export function quantizedToTensors(weight: string, q: Quantized4bit, out = new Map<string, RawTensor>()): Map<string, RawTensor> {
  out.set(weight, { dtype: 'U8', shape: [q.packed.length, 1], bytes: q.packed });
  out.set(`${weight}.quant_map`, rawF32(q.code));
  const state: PackedState & { dtype: string } = { quant_type: q.quantType, blocksize: q.blocksize, dtype: 'float32', shape: q.shape };
  if (q.nested) {
    out.set(`${weight}.absmax`, { dtype: 'U8', shape: [q.nested.codes.length], bytes: q.nested.codes });
    out.set(`${weight}.nested_absmax`, rawF32(q.nested.absmax2));
    out.set(`${weight}.nested_quant_map`, rawF32(q.nested.code));
    Object.assign(state, { nested_blocksize: q.nested.blocksize, nested_dtype: 'float32', nested_offset: q.nested.offset });
  } else {
    out.set(`${weight}.absmax`, rawF32(q.absmax!));
  }
  const json = Buffer.from(JSON.stringify(state), 'utf8');
  out.set(`${weight}.quant_state.bitsandbytes__${q.quantType}`, { dtype: 'U8', shape: [json.length], bytes: new Uint8Array(json) });
  return out;
}

/** Writes raw tensors (sorted by name) as a safetensors file, atomically; the counterpart of readRawTensors. */
export function writeRawTensors(file: string, tensors: Map<string, RawTensor>): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
  writeFileAtomic(file, (fd) => {
    writeSync(fd, prefix);
    writeSync(fd, jsonBytes);
    for (const name of names) writeSync(fd, tensors.get(name)!.bytes);
  });
}
