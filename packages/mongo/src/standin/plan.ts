/**
 * Sorted reads with a limit through ordered indexes, as mongod plans them: a filter, or each
 * branch of its top-level `$or`, whose equality conditions pin the first fields of an index whose
 * next field is the sort field. Each branch walks its range of the index in sort order (stopping
 * at a bound on the sort field); the branches are merged by sort value (mongod's SORT_MERGE);
 * every document is checked against the whole filter, and the walk ends at the limit. A filter
 * with no such plan returns null, and the caller matches and sorts every document as before.
 */
import type { OrderedEntries, OrderedEntry } from './ordered-index.ts';
import { compileFilter, equalityFields, type SortSpec } from './query.ts';
import { compareValues, isDocument, type Doc } from './values.ts';

/** What a read did, for explain: documents fetched and checked, and whether an index was walked. */
export interface ReadStats {
  docsExamined: number;
  walked: boolean;
}

export interface PlanSource {
  /** The ordered indexes a walk may use (not partial, not sparse, not multikey). */
  walkable(): OrderedEntries[];
  doc(id: string): Doc | undefined;
}

interface Walk {
  entries: OrderedEntry[];
  at: number;
  end: number;
  step: 1 | -1;
  /** Where the sort field sits in the index's fields. */
  position: number;
  /**
   * True for a sort value past the filter's bound in the walk's direction: nothing further matches.
   */
  past: (value: unknown) => boolean;
}

/** The equality conditions of all parts of a branch (each part must hold). */
function pinned(parts: Doc[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const part of parts) for (const [k, v] of equalityFields(part)) out.set(k, v);
  return out;
}

/** A bound on the sort field beyond which a walk in `direction` finds no more matches. */
function boundOf(parts: Doc[], path: string, direction: 1 | -1): (value: unknown) => boolean {
  const tests: Array<(value: unknown) => boolean> = [];
  for (const part of parts) {
    const condition = part[path];
    if (!isDocument(condition)) continue;
    for (const [op, arg] of Object.entries(condition)) {
      if (direction === 1 && op === '$lte') tests.push((v) => compareValues(v, arg) > 0);
      if (direction === 1 && op === '$lt') tests.push((v) => compareValues(v, arg) >= 0);
      if (direction === -1 && op === '$gte') tests.push((v) => compareValues(v, arg) < 0);
      if (direction === -1 && op === '$gt') tests.push((v) => compareValues(v, arg) <= 0);
    }
  }
  return (value) => tests.some((t) => t(value));
}

function planBranch(
  source: PlanSource,
  parts: Doc[],
  path: string,
  direction: 1 | -1,
): Walk | null {
  const equal = pinned(parts);
  for (const index of source.walkable()) {
    const position = index.fields.indexOf(path);
    if (position < 0) continue;
    const prefixFields = index.fields.slice(0, position);
    if (!prefixFields.every((f) => equal.has(f))) continue;
    const prefix = prefixFields.map((f) => equal.get(f));
    if (prefix.some((v) => Array.isArray(v) || isDocument(v))) continue;
    const [from, to] = index.prefixRange(prefix);
    const forward = (index.directions[position] ?? 1) === direction;
    return {
      entries: index.entries,
      at: forward ? from : to - 1,
      end: forward ? to : from - 1,
      step: forward ? 1 : -1,
      position,
      past: boundOf(parts, path, direction),
    };
  }
  return null;
}

function head(walk: Walk): OrderedEntry | null {
  if (walk.at === walk.end) return null;
  const entry = walk.entries[walk.at] as OrderedEntry;
  return walk.past(entry.values[walk.position]) ? null : entry;
}

/** Up to `limit` documents matching `filter` in `sort` order, or null when no index serves. */
export function findSortedByIndex(
  source: PlanSource,
  filter: Doc | undefined,
  sort: SortSpec,
  limit: number,
  stats?: ReadStats,
): Doc[] | null {
  if (sort.length !== 1 || limit <= 0) return null;
  const [path, direction] = sort[0] as [string, 1 | -1];
  const whole = filter ?? {};
  const { $or: branches, ...rest } = whole;
  if (branches !== undefined && !(Array.isArray(branches) && branches.every(isDocument)))
    return null;
  const partsList = branches === undefined ? [[whole]] : (branches as Doc[]).map((b) => [rest, b]);
  const walks: Walk[] = [];
  for (const parts of partsList) {
    const walk = planBranch(source, parts, path, direction);
    if (!walk) return null;
    walks.push(walk);
  }
  const matches = compileFilter(whole);
  if (stats) stats.walked = true;
  const seen = new Set<string>();
  const out: Doc[] = [];
  for (;;) {
    let best: { walk: Walk; entry: OrderedEntry } | null = null;
    for (const walk of walks) {
      const entry = head(walk);
      if (!entry) continue;
      const c = best
        ? compareValues(entry.values[walk.position], best.entry.values[best.walk.position]) *
          direction
        : -1;
      if (!best || c < 0 || (c === 0 && entry.seq < best.entry.seq)) best = { walk, entry };
    }
    if (!best) return out;
    best.walk.at += best.walk.step;
    if (seen.has(best.entry.id)) continue;
    seen.add(best.entry.id);
    const doc = source.doc(best.entry.id);
    if (stats && doc) stats.docsExamined++;
    if (doc && matches(doc)) {
      out.push(doc);
      if (out.length >= limit) return out;
    }
  }
}
