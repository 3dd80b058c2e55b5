/**
 * The parent ids a streaming pass has read, kept as a Bloom filter: a fixed 2 MB whatever the
 * export's size. `has` is never wrong about an id it was given; about another id it errs on the
 * side of "seen" (about 0.2 % of ids at a million orders, more beyond), and a parent taken for one
 * seen before only costs its id a second-pass join (./stage.ts), never a wrong row.
 */
const BITS = 1 << 24;
const HASHES = 4;

export class IdFilter {
  private readonly words: Uint32Array;

  /** An empty filter, or one kept by `bytes()` (a filter of another size is not reused: null is returned by `from`). */
  constructor(words?: Uint32Array) {
    this.words = words ?? new Uint32Array(BITS / 32);
  }

  static from(bytes: Uint8Array): IdFilter | null {
    if (bytes.byteLength !== BITS / 8) return null;
    return new IdFilter(new Uint32Array(bytes.slice().buffer));
  }

  /** The filter's bits, to keep and resume with (`from`). */
  bytes(): Uint8Array {
    return new Uint8Array(this.words.buffer, this.words.byteOffset, this.words.byteLength);
  }

  add(id: string): void {
    const [a, b] = hashes(id);
    for (let i = 0; i < HASHES; i++) {
      const bit = (a + i * b) & (BITS - 1);
      this.words[bit >>> 5] = (this.words[bit >>> 5] as number) | (1 << (bit & 31));
    }
  }

  has(id: string): boolean {
    const [a, b] = hashes(id);
    for (let i = 0; i < HASHES; i++) {
      const bit = (a + i * b) & (BITS - 1);
      if (((this.words[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Two 32-bit FNV-1a hashes of the text (different offsets), the second odd, for double hashing. */
function hashes(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) + 0x27d4eb2d;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
