import fs from 'node:fs';

/** Reads a text file line by line through one fixed buffer (bounded memory). */
export class LineReader {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(1 << 20);
  private pending = '';
  private lines: string[] = [];
  private at = 0;
  private pos = 0;
  private eof = false;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'r');
  }

  /** The next line without its newline, or null at the end of the file. */
  next(): string | null {
    while (this.at >= this.lines.length) {
      if (this.eof) {
        if (this.pending) {
          const last = this.pending;
          this.pending = '';
          return last;
        }
        return null;
      }
      const n = fs.readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      this.pos += n;
      if (n === 0) {
        this.eof = true;
        continue;
      }
      const text = this.pending + this.buf.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.pending = parts.pop() ?? '';
      this.lines = parts;
      this.at = 0;
    }
    return this.lines[this.at++];
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
