/**
 * @internal A bounded cache of the entries used lately, in two generations: entries go into the
 * young one; when it is full, it becomes the old one (the previous old one is dropped) and a new
 * young one starts; a hit in the old generation moves the entry back to the young one. Every
 * operation is O(1): evicting the oldest entry of one `Map` one by one (`keys().next()` then
 * `delete`) is not, because a `Map` leaves deleted entries as holes that every later walk from
 * its start steps over, until it rehashes.
 */
export class GenerationalCache<K, V> {
  readonly #generation: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();

  /** Keeps between `size` and twice `size` entries. */
  constructor(size: number) {
    this.#generation = size;
  }

  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
