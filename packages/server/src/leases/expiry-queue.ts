/**
 * A min-heap of (time, key) with lazy deletion: a key's entry counts only
 * while its time is the one last scheduled for it. Scheduling and popping
 * are O(log n) amortized; a renewal just schedules again. Stale entries
 * never outnumber live ones by much: past twice the live count plus a
 * margin, the heap is rebuilt from the live entries.
 */
export class ExpiryQueue<K> {
  private readonly heap: { at: number; key: K }[] = [];
  private readonly current = new Map<K, number>();

  schedule(key: K, at: number): void {
    this.current.set(key, at);
    this.heap.push({ at, key });
    this.up(this.heap.length - 1);
    if (this.heap.length > 2 * this.current.size + 1024) this.rebuild();
  }

  /** Entries held, stale ones included (for tests of the bound). */
  get heapSize(): number {
    return this.heap.length;
  }

  cancel(key: K): void {
    this.current.delete(key);
  }

  /** The earliest time still scheduled, if any. */
  next(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every key due at or before `now`, earliest first. */
  due(now: number): K[] {
    const keys: K[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return keys;
      this.pop();
      this.current.delete(top.key);
      keys.push(top.key);
    }
  }

  get size(): number {
    return this.current.size;
  }

  private rebuild(): void {
    this.heap.length = 0;
    for (const [key, at] of this.current) this.heap.push({ at, key });
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private dropStale(): void {
    for (let top = this.heap[0]; top && this.current.get(top.key) !== top.at; top = this.heap[0]) {
      this.pop();
    }
  }

  private pop(): void {
    const last = this.heap.pop();
    if (last && this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
  }

  private up(index: number): void {
    const heap = this.heap;
    const item = heap[index] as { at: number; key: K };
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent] as { at: number; key: K };
      if (above.at <= item.at) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = item;
  }

  private down(index: number): void {
    const heap = this.heap;
    const item = heap[index] as { at: number; key: K };
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right]?.at ?? 0) < (heap[left]?.at ?? 0) ? right : left;
      const below = heap[child] as { at: number; key: K };
      if (below.at >= item.at) break;
      heap[index] = below;
      index = child;
    }
    heap[index] = item;
  }
}
