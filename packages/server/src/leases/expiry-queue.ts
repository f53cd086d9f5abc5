/**
 * A min-heap of (time, key) with lazy deletion: a key's entry counts only
 * while its time is the one last scheduled for it. Scheduling and popping
 * are O(log n) amortized; a renewal just schedules again. Stale entries
 * never outnumber live ones by much: past twice the live count plus a
 * margin, the heap is rebuilt from the live entries.
 *
 * The heap is two parallel arrays, times (unboxed doubles) and keys, rather
 * than an object per entry: a server may hold a million of them.
 */
export class ExpiryQueue<K> {
  private readonly times: number[] = [];
  private readonly keys: K[] = [];
  private readonly current = new Map<K, number>();

  schedule(key: K, at: number): void {
    this.current.set(key, at);
    this.times.push(at);
    this.keys.push(key);
    this.up(this.times.length - 1);
    if (this.times.length > 2 * this.current.size + 1024) this.rebuild();
  }

  /** Entries held, stale ones included (for tests of the bound). */
  get heapSize(): number {
    return this.times.length;
  }

  cancel(key: K): void {
    this.current.delete(key);
  }

  /** The earliest time still scheduled, if any. */
  next(): number | undefined {
    this.dropStale();
    return this.times[0];
  }

  /** Removes and returns every key due at or before `now`, earliest first. */
  due(now: number): K[] {
    const due: K[] = [];
    for (;;) {
      this.dropStale();
      const at = this.times[0];
      if (at === undefined || at > now) return due;
      const key = this.keys[0] as K;
      this.pop();
      this.current.delete(key);
      due.push(key);
    }
  }

  get size(): number {
    return this.current.size;
  }

  private rebuild(): void {
    this.times.length = 0;
    this.keys.length = 0;
    for (const [key, at] of this.current) {
      this.times.push(at);
      this.keys.push(key);
    }
    for (let i = (this.times.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private dropStale(): void {
    while (this.times.length > 0 && this.current.get(this.keys[0] as K) !== this.times[0]) {
      this.pop();
    }
  }

  private pop(): void {
    const at = this.times.pop() as number;
    const key = this.keys.pop() as K;
    if (this.times.length > 0) {
      this.times[0] = at;
      this.keys[0] = key;
      this.down(0);
    }
  }

  private up(index: number): void {
    const { times, keys } = this;
    const at = times[index] as number;
    const key = keys[index] as K;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = times[parent] as number;
      if (above <= at) break;
      times[index] = above;
      keys[index] = keys[parent] as K;
      index = parent;
    }
    times[index] = at;
    keys[index] = key;
  }

  private down(index: number): void {
    const { times, keys } = this;
    const at = times[index] as number;
    const key = keys[index] as K;
    const length = times.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child =
        right < length && (times[right] as number) < (times[left] as number) ? right : left;
      const below = times[child] as number;
      if (below >= at) break;
      times[index] = below;
      keys[index] = keys[child] as K;
      index = child;
    }
    times[index] = at;
    keys[index] = key;
  }
}
