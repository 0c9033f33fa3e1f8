import { Transform, type TransformCallback } from 'node:stream';

const HEADER_END = Buffer.from('\r\n\r\n');
/** A header block longer than this without its blank line is garbage, not a header still arriving. */
const MAX_HEADER_BYTES = 8 * 1024;

/**
 * Passes only well-framed LSP messages (`Content-Length: N\r\n\r\n` + N bytes) on to vscode-jsonrpc.
 *
 * Why: after a malformed header, vscode-jsonrpc's reader reports the error and stops reading the
 * chunk it was in, so a valid request that arrived in the same chunk waits for more input that may
 * never come and the client hangs. Dropping broken frames here, with a note, keeps the server
 * answering. Bodies are not inspected: a body that is not JSON still reaches the reader, which
 * reports it and carries on with the next message.
 */
export class FrameSanitizer extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private bodyLength = -1;

  constructor(private readonly report: (problem: string) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.bodyLength < 0 && !this.readHeader()) break;
      if (this.pending.length < this.bodyLength) break;
      this.push(this.pending.subarray(0, this.bodyLength));
      this.pending = this.pending.subarray(this.bodyLength);
      this.bodyLength = -1;
    }
    done();
  }

  /** Consumes one header block; forwards it when valid. False when more input is needed. */
  private readHeader(): boolean {
    for (;;) {
      const end = this.pending.indexOf(HEADER_END);
      if (end < 0) {
        if (this.pending.length > MAX_HEADER_BYTES) {
          this.report(`dropped ${this.pending.length} bytes that are not an LSP header`);
          this.pending = Buffer.alloc(0);
        }
        return false;
      }
      const block = this.pending.subarray(0, end + HEADER_END.length);
      this.pending = this.pending.subarray(block.length);
      const length = contentLength(block.toString('ascii', 0, end));
      if (length === undefined) {
        this.report(`dropped a message whose header has no valid Content-Length: ${JSON.stringify(block.toString('utf8', 0, Math.min(end, 200)))}`);
        continue;
      }
      this.push(block);
      this.bodyLength = length;
      return true;
    }
  }
}

/** The Content-Length of a header block, or undefined when a line is malformed or the length is not a number. */
function contentLength(header: string): number | undefined {
  let length: number | undefined;
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d+$/.test(value)) return undefined;
    length = Number(value);
  }
  return length;
}
