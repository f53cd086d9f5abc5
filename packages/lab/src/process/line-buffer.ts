/**
 * Splits a stream of text into lines and keeps the last `limit` of them, so a
 * chatty process cannot grow the lab's memory without bound. A trailing `\r`
 * is dropped with the `\n`. `flush()` emits a final line without newline.
 */
export class LineBuffer {
  readonly #limit: number;
  readonly #lines: string[] = [];
  #partial = '';
  #dropped = 0;

  constructor(limit = 10_000) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the line limit must be ≥ 1');
    this.#limit = limit;
  }

  /** Adds a chunk and returns the lines it completed. */
  push(chunk: string): string[] {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    const lines = parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    for (const line of lines) this.#keep(line);
    return lines;
  }

  /** Ends the stream: the unterminated rest, if any, becomes a line. */
  flush(): string[] {
    if (this.#partial === '') return [];
    const line = this.#partial;
    this.#partial = '';
    this.#keep(line);
    return [line];
  }

  /** The kept lines, oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** How many lines fell out of the buffer. */
  get dropped(): number {
    return this.#dropped;
  }

  #keep(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#limit) {
      this.#lines.shift();
      this.#dropped++;
    }
  }
}
