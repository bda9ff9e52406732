/**
 * The --metrics JSON-lines file. It counts the bytes it has written so that a
 * checkpoint can record them: a resumed run cuts the file back to that length,
 * dropping the lines the killed run wrote after its last checkpoint (they are
 * written again), so no line appears twice.
 */
import { promises as fsp } from 'node:fs';

export class MetricsFile {
  private fh: fsp.FileHandle | null = null;

  /** `resumeAt`: the byte length a checkpoint recorded (the file is continued there), or null for a fresh file. */
  constructor(
    private readonly file: string | undefined,
    private readonly resumeAt: number | null,
    public bytes = resumeAt ?? 0,
  ) {}

  async write(obj: object): Promise<void> {
    if (!this.file) return;
    if (!this.fh) {
      if (this.resumeAt !== null) {
        await fsp.truncate(this.file, this.resumeAt).catch(() => {});
        this.fh = await fsp.open(this.file, 'a');
      } else this.fh = await fsp.open(this.file, 'w');
    }
    const line = JSON.stringify(obj) + '\n';
    await this.fh.write(line);
    this.bytes += Buffer.byteLength(line);
  }

  /** Durable before a checkpoint records `bytes`. */
  async sync(): Promise<void> {
    await this.fh?.sync();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }
}
