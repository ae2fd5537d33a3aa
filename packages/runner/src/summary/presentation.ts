/**
 * How each variant is shown: its colour in charts and what the original experiment measured for
 * the same strategy. One entry per variant of the registry (a missing one is a compile error).
 */
import type { Variant } from '@mailbench/target-api/contract';
import { EXTERNAL, type Subject, type ReferenceName } from '../shapes/scenario.ts';
import { isReference } from '../config/references.ts';

/** The original stack's throughput limit (its Flask API "couldn't make more than 13 rps"). */
export const ORIGINAL_LIMIT_PER_SEC = 13;

/** The original experiment's average response times in ms, by request count (60 s ramp-up). */
type ReferenceAverages = Partial<Record<number, number>>;

export interface VariantPresentation {
  /** Chart colour. */
  color: string;
  /** What the original experiment called the same strategy; null where it had none. */
  reference: { label: string; noDelay: ReferenceAverages; delay500ms: ReferenceAverages } | null;
}

export const VARIANT_PRESENTATION = {
  'no-email': {
    color: '#7f7f7f',
    reference: { label: 'no mail', noDelay: { 800: 294, 850: 537 }, delay500ms: {} },
  },
  inline: {
    color: '#d62728',
    reference: { label: 'blocking', noDelay: { 750: 443, 800: 790 }, delay500ms: { 750: 1863 } },
  },
  background: {
    color: '#1f77b4',
    reference: {
      label: 'background thread',
      noDelay: { 750: 307, 800: 662, 850: 2026 },
      delay500ms: {},
    },
  },
  'worker-pool': { color: '#9467bd', reference: null },
  outbox: { color: '#2ca02c', reference: null },
  agenda: { color: '#ff7f0e', reference: null },
  bullmq: { color: '#e377c2', reference: null },
  'bullmq-worker': { color: '#17becf', reference: null },
} satisfies Record<Variant, VariantPresentation>;

/**
 * The reference targets are the original's own strategies on its own stack (Flask) and the Node
 * API it compared with ("73 ms" at 1000 sign-ups over 60 s): the same figures beside them.
 */
export const REFERENCE_PRESENTATION = {
  'flask-no-email': { color: '#4d4d4d', reference: VARIANT_PRESENTATION['no-email'].reference },
  'flask-blocking': { color: '#8b0000', reference: VARIANT_PRESENTATION.inline.reference },
  'flask-thread': { color: '#0b3c8c', reference: VARIANT_PRESENTATION.background.reference },
  'express-inline': {
    color: '#bcbd22',
    reference: { label: 'Node', noDelay: { 1000: 73 }, delay500ms: {} },
  },
} satisfies Record<ReferenceName, VariantPresentation>;

/** An external target: its own colour, and nothing from the original to compare with. */
const EXTERNAL_PRESENTATION: VariantPresentation = { color: '#8c564b', reference: null };

export function presentationOf(subject: Subject): VariantPresentation {
  if (subject === EXTERNAL) return EXTERNAL_PRESENTATION;
  return isReference(subject) ? REFERENCE_PRESENTATION[subject] : VARIANT_PRESENTATION[subject];
}
