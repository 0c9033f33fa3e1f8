import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { JsonlWriter } from '../data/jsonl-writer.js';

/**
 * A spill file of examples for the shuffle: lines are appended as they stream in and their
 * byte offsets kept, so that the whole set can be written out in any order while the heap
 * holds only the offsets (8 bytes per example), not the text.
 */
export class SpillFile {
  private offsets: number[] = [0];
  private constructor(private readonly file: string, private readonly writer: JsonlWriter) {}

  static async create(file: string): Promise<SpillFile> {
    return new SpillFile(file, await JsonlWriter.create(file));
  }

  get count(): number {
    return this.offsets.length - 1;
  }

  async append(value: unknown): Promise<void> {
    const line = JSON.stringify(value) + '\n';
    this.offsets.push(this.offsets[this.offsets.length - 1] + Buffer.byteLength(line));
    await this.writer.writeLine(line);
  }

  /** Writes the examples at `order` (indices) to `out`, each as its original line. */
  async copyTo(out: JsonlWriter, order: ArrayLike<number>): Promise<void> {
    await this.writer.flush();
    const fd = openSync(this.file, 'r');
    let buf = Buffer.alloc(1 << 16);
    try {
      for (let k = 0; k < order.length; k++) {
        const i = order[k];
        const start = this.offsets[i];
        const length = this.offsets[i + 1] - start;
        if (length > buf.length) buf = Buffer.alloc(length * 2);
        readSync(fd, buf, 0, length, start);
        await out.writeLine(buf.toString('utf8', 0, length));
      }
    } finally {
      closeSync(fd);
    }
  }

  async remove(): Promise<void> {
    await this.writer.close();
    rmSync(this.file, { force: true });
  }
}
