/**
 * A set of non-negative integers (bigint) that answers order questions in
 * O(log n): how many members lie below a value, and which value is the r-th
 * one that is *not* a member. The allocator keeps its allocated positions
 * here and draws free positions with `nthAbsent`.
 *
 * An AVL tree whose nodes count their subtree. A node costs one small object
 * and one bigint; nothing is allocated per lookup except bigint arithmetic.
 */
interface Node {
  key: bigint;
  left: Node | null;
  right: Node | null;
  height: number;
  size: number;
}

const size = (node: Node | null) => (node ? node.size : 0);
const height = (node: Node | null) => (node ? node.height : 0);

function update(node: Node): Node {
  node.size = size(node.left) + size(node.right) + 1;
  node.height = Math.max(height(node.left), height(node.right)) + 1;
  return node;
}

function rotateRight(node: Node): Node {
  const pivot = node.left as Node;
  node.left = pivot.right;
  pivot.right = update(node);
  return update(pivot);
}

function rotateLeft(node: Node): Node {
  const pivot = node.right as Node;
  node.right = pivot.left;
  pivot.left = update(node);
  return update(pivot);
}

function balance(node: Node): Node {
  update(node);
  const skew = height(node.left) - height(node.right);
  if (skew > 1) {
    const left = node.left as Node;
    if (height(left.left) < height(left.right)) node.left = rotateLeft(left);
    return rotateRight(node);
  }
  if (skew < -1) {
    const right = node.right as Node;
    if (height(right.right) < height(right.left)) node.right = rotateRight(right);
    return rotateLeft(node);
  }
  return node;
}

export class RankSet {
  private root: Node | null = null;

  get size(): number {
    return size(this.root);
  }

  /** The tree's height: every operation walks one path of at most this many nodes. */
  get height(): number {
    return height(this.root);
  }

  has(key: bigint): boolean {
    let node = this.root;
    while (node) {
      if (key === node.key) return true;
      node = key < node.key ? node.left : node.right;
    }
    return false;
  }

  /** Adds `key`; false when it was already a member. */
  add(key: bigint): boolean {
    const before = this.size;
    this.root = this.insert(this.root, key);
    return this.size !== before;
  }

  /** Removes `key`; false when it was not a member. */
  delete(key: bigint): boolean {
    const before = this.size;
    this.root = this.remove(this.root, key);
    return this.size !== before;
  }

  clear(): void {
    this.root = null;
  }

  /** How many members are smaller than `key`. */
  countBelow(key: bigint): number {
    let count = 0;
    let node = this.root;
    while (node) {
      if (key <= node.key) {
        node = node.left;
      } else {
        count += size(node.left) + 1;
        node = node.right;
      }
    }
    return count;
  }

  /**
   * The r-th (from 0) non-negative integer that is not a member. The answer
   * x satisfies x = r + countBelow(x), which the descent finds directly: below
   * a member k lie k - (members below k) non-members.
   */
  nthAbsent(r: bigint): bigint {
    let before = 0;
    let node = this.root;
    while (node) {
      const leftSize = size(node.left);
      if (r < node.key - BigInt(before + leftSize)) {
        node = node.left;
      } else {
        before += leftSize + 1;
        node = node.right;
      }
    }
    return r + BigInt(before);
  }

  /** Members in increasing order. */
  *[Symbol.iterator](): IterableIterator<bigint> {
    const stack: Node[] = [];
    let node = this.root;
    while (node || stack.length > 0) {
      while (node) {
        stack.push(node);
        node = node.left;
      }
      const next = stack.pop() as Node;
      yield next.key;
      node = next.right;
    }
  }

  /** Checks the tree's invariants; for tests. */
  verify(): void {
    const walk = (node: Node | null, low: bigint | null, high: bigint | null): void => {
      if (!node) return;
      if ((low !== null && node.key <= low) || (high !== null && node.key >= high)) {
        throw new Error('RankSet: keys out of order');
      }
      walk(node.left, low, node.key);
      walk(node.right, node.key, high);
      if (node.size !== size(node.left) + size(node.right) + 1)
        throw new Error('RankSet: bad size');
      if (node.height !== Math.max(height(node.left), height(node.right)) + 1) {
        throw new Error('RankSet: bad height');
      }
      if (Math.abs(height(node.left) - height(node.right)) > 1)
        throw new Error('RankSet: unbalanced');
    };
    walk(this.root, null, null);
  }

  private insert(node: Node | null, key: bigint): Node {
    if (!node) return { key, left: null, right: null, height: 1, size: 1 };
    if (key === node.key) return node;
    if (key < node.key) node.left = this.insert(node.left, key);
    else node.right = this.insert(node.right, key);
    return balance(node);
  }

  private remove(node: Node | null, key: bigint): Node | null {
    if (!node) return null;
    if (key < node.key) {
      node.left = this.remove(node.left, key);
    } else if (key > node.key) {
      node.right = this.remove(node.right, key);
    } else {
      if (!node.left) return node.right;
      if (!node.right) return node.left;
      let successor = node.right;
      while (successor.left) successor = successor.left;
      node.key = successor.key;
      node.right = this.remove(node.right, successor.key);
    }
    return balance(node);
  }
}
