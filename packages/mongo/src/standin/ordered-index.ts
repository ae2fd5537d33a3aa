/**
 * An index's entries in key order, kept beside its hash map: what lets a sorted read with a
 * limit walk the index and stop (mongod's index scan) instead of matching and sorting every
 * document. One entry per document; an indexed field holding an array makes the index multikey,
 * and a multikey index is not walked (its order would need one entry per element).
 */
import { lookupPath } from './query.ts';
import { compareValues, type Doc } from './values.ts';

export interface OrderedEntry {
  values: unknown[];
  /** The document's place in natural order: ties on every field keep it. */
  seq: number;
  id: string;
}

export class OrderedEntries {
  readonly fields: string[];
  readonly directions: Array<1 | -1>;
  readonly entries: OrderedEntry[] = [];
  multikey = false;

  constructor(key: Doc) {
    this.fields = Object.keys(key);
    this.directions = Object.values(key).map((d) => (Number(d) < 0 ? -1 : 1));
  }

  /** The document's value of each field (undefined when missing), or null when one is an array. */
  private valuesOf(doc: Doc): unknown[] | null {
    const out: unknown[] = [];
    for (const field of this.fields) {
      const found = lookupPath(doc, field);
      if (found.length !== 1 || Array.isArray(found[0])) return null;
      out.push(found[0]);
    }
    return out;
  }

  /** Field by field in the index's directions over the first `width` fields. */
  private compareValuesTo(values: unknown[], other: unknown[], width: number): number {
    for (let i = 0; i < width; i++) {
      const c = compareValues(values[i], other[i]) * (this.directions[i] ?? 1);
      if (c !== 0) return c;
    }
    return 0;
  }

  private compareEntries(a: OrderedEntry, b: OrderedEntry): number {
    return this.compareValuesTo(a.values, b.values, this.fields.length) || a.seq - b.seq;
  }

  /** First position whose entry is not before `probe` (by `cmp`, negative while before). */
  private search(cmp: (e: OrderedEntry) => number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(this.entries[mid] as OrderedEntry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(id: string, seq: number, doc: Doc): void {
    const values = this.valuesOf(doc);
    if (values === null) {
      this.multikey = true;
      return;
    }
    const entry = { values, seq, id };
    this.entries.splice(
      this.search((e) => this.compareEntries(e, entry)),
      0,
      entry,
    );
  }

  remove(id: string, seq: number, doc: Doc): void {
    const values = this.valuesOf(doc);
    if (values === null) return;
    const probe = { values, seq, id };
    const at = this.search((e) => this.compareEntries(e, probe));
    if (this.entries[at]?.id === id) this.entries.splice(at, 1);
  }

  /** The positions [from, to) of the entries whose first fields equal `prefix`. */
  prefixRange(prefix: unknown[]): [number, number] {
    const width = prefix.length;
    const from = this.search((e) => this.compareValuesTo(e.values, prefix, width));
    const to = this.search((e) => (this.compareValuesTo(e.values, prefix, width) <= 0 ? -1 : 1));
    return [from, to];
  }
}
