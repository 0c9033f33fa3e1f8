import { createReadStream } from 'node:fs';

/** Chunk size for streamed reads: big enough for throughput, small enough to keep heap flat. */
export const CHUNK_BYTES = 1 << 20;

/**
 * Streams a UTF-8 text file as string chunks (multi-byte characters are never split:
 * the stream's decoder holds partial sequences back). A leading BOM is dropped.
 */
export async function* readChunks(file: string): AsyncGenerator<string> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  let first = true;
  for await (const chunk of stream as AsyncIterable<string>) {
    if (first) {
      first = false;
      if (chunk.charCodeAt(0) === 0xfeff) {
        if (chunk.length > 1) yield chunk.slice(1);
        continue;
      }
    }
    yield chunk;
  }
}

export interface Line {
  text: string;
  /** 1-based line number. */
  line: number;
}

/**
 * Streams a text file line by line (LF or CRLF), holding at most one chunk plus one
 * partial line in memory. A line longer than a chunk is assembled from pieces so that
 * each chunk is scanned once.
 */
export async function* readLines(file: string): AsyncGenerator<Line> {
  let pending: string[] = [];
  let line = 0;
  for await (const chunk of readChunks(file)) {
    let start = 0;
    let nl = chunk.indexOf('\n');
    while (nl !== -1) {
      let text = chunk.slice(start, nl);
      if (pending.length) {
        pending.push(text);
        text = pending.join('');
        pending = [];
      }
      line++;
      yield { text: stripCr(text), line };
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length) {
    line++;
    yield { text: stripCr(pending.join('')), line };
  }
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}
