/**
 * `explain` (executionStats) of a find or findAndModify: how many documents the read examined
 * and whether it walked an index, so a test can see an index serve a query without timing it.
 * Nothing is modified. mongod answers the same command with the same fields.
 */
import { failedToParse, notImplemented } from './errors.ts';
import type { ReadStats } from './plan.ts';
import { parseSort } from './query.ts';
import type { Store } from './store.ts';
import { isDocument, toNumber, type Doc } from './values.ts';

export function explainCommand(store: Store, command: Doc, db: string): Doc {
  const inner = command.explain;
  if (!isDocument(inner)) throw failedToParse('explain needs the command to explain as a document');
  const name = Object.keys(inner)[0] ?? '';
  const isFind = name === 'find';
  if (!isFind && name !== 'findAndModify' && name !== 'findandmodify') {
    throw notImplemented(
      `explain of '${name}' is not supported by the mailbench stand-in (only find and findAndModify)`,
    );
  }
  const collectionName = inner[name];
  if (typeof collectionName !== 'string') throw failedToParse(`${name} needs a collection name`);
  const filter = isFind ? inner.filter : inner.query;
  if (filter !== undefined && !isDocument(filter))
    throw failedToParse(`${name}'s filter must be a document`);
  const limit = isFind ? Math.abs(toNumber(inner.limit ?? 0)) : 1;
  const stats: ReadStats = { docsExamined: 0, walked: false };
  const collection = store.collection(db, collectionName);
  const docs = collection ? collection.findSorted(filter, parseSort(inner.sort), limit, stats) : [];
  return {
    queryPlanner: {
      namespace: `${db}.${collectionName}`,
      winningPlan: { stage: stats.walked ? 'IXSCAN' : 'COLLSCAN' },
    },
    executionStats: { nReturned: docs.length, totalDocsExamined: stats.docsExamined },
    ok: 1,
  };
}
