/** An Arrow IPC stream's bytes, exactly as `preprocess --to -` writes them, of numbered rows. */
import { Readable } from 'node:stream';
import { arrowStreamEncoder } from '../../io/arrow-stream.js';
import { numberedBatches } from './train-data.js';

export async function arrowStreamBytes(rows: number, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of Readable.from(numberedBatches(rows, chunk)).pipe(arrowStreamEncoder())) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
