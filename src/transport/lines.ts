/** The largest frame accepted on any channel; a longer line is answered with an error and discarded. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into newline-terminated frames without decoding it. Lines over `maxBytes` are not
 * buffered: their bytes are dropped as they arrive and `onOversize` is called once per such line. A line
 * that arrives whole in one chunk is also handed over with its newline (`framed`, the same memory), so a
 * pipe can pass it on without a copy to append one.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: Buffer, framed?: Buffer) => void,
    private readonly onOversize: () => void = () => {},
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  /** Feeds a chunk; calls onLine for every complete line in it. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (nl !== -1 && this.size === 0 && !this.discarding && end - start <= this.maxBytes) {
        this.emitWhole(chunk, start, nl);
        start = nl + 1;
        continue;
      }
      if (!this.discarding) {
        this.size += end - start;
        if (this.size > this.maxBytes) {
          this.discarding = true;
          this.parts = [];
          this.onOversize();
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
        }
      }
      if (nl === -1) return;
      if (!this.discarding) this.emit();
      this.reset();
      start = nl + 1;
    }
  }

  /** Bytes of an unterminated line held so far. */
  get pending(): number {
    return this.size;
  }

  /** Gives up the bytes of the unterminated line held so far (a stream handed to another reader). */
  take(): Buffer {
    const held = this.discarding ? Buffer.alloc(0) : Buffer.concat(this.parts, this.size);
    this.reset();
    return held;
  }

  /** A line lying whole in `chunk` before its newline at `nl`: no parts, no concat. */
  private emitWhole(chunk: Buffer, start: number, nl: number): void {
    if (nl > start && chunk[nl - 1] === 0x0d) {
      // CRLF: the line without its CR, so no framed copy (the bytes after it are not just a newline).
      if (nl - 1 > start) this.onLine(chunk.subarray(start, nl - 1));
    } else if (nl > start) this.onLine(chunk.subarray(start, nl), chunk.subarray(start, nl + 1));
  }

  private emit(): void {
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    let len = line.length;
    if (len > 0 && line[len - 1] === 0x0d) len--; // tolerate CRLF from Windows clients
    if (len > 0) this.onLine(line.subarray(0, len));
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.discarding = false;
  }
}
