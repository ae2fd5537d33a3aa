/**
 * A chart's narrow layout: the same Vega-Lite spec drawn for a phone-wide screen. A wide chart
 * scaled down to 500 px leaves its text at 4 px; this one is drawn at about 440 px so its text
 * keeps its size: panels stacked in one column, plot areas no wider than NARROW_WIDTH, legends
 * below the plot. The report holds both drawings and its CSS shows the one that fits.
 */
import type { TopLevelSpec } from 'vega-lite';

/** The widest plot area of a narrow chart, in px (axes and titles add about 70 px). */
export const NARROW_WIDTH = 340;
/** Below this page width (px) the report shows the narrow drawing of each chart. */
export const NARROW_BREAK = 720;

type Json = Record<string, unknown>;

function narrowWidth(spec: Json): void {
  if (typeof spec.width === 'number' && spec.width > NARROW_WIDTH) spec.width = NARROW_WIDTH;
  // A line of panels becomes a stack of panels: facet columns are laid out as rows.
  const facet = spec.facet as Json | undefined;
  if (facet && 'column' in facet && !('row' in facet)) {
    facet.row = facet.column;
    delete facet.column;
  }
  if (typeof spec.columns === 'number') spec.columns = 1;
  // The same, for a facet written as an encoding channel.
  const encoding = spec.encoding as Json | undefined;
  if (encoding && 'column' in encoding && !('row' in encoding)) {
    encoding.row = encoding.column;
    delete encoding.column;
  }
  const wrapped = encoding?.facet as Json | undefined;
  if (wrapped && typeof wrapped.columns === 'number') wrapped.columns = 1;
  if (spec.spec && typeof spec.spec === 'object') narrowWidth(spec.spec as Json);
}

/** Moves every legend below its plot, whatever orient it asked for. */
function legendsBelow(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) legendsBelow(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Json;
  if (o.legend && typeof o.legend === 'object') {
    const legend = o.legend as Json;
    legend.orient = 'bottom';
    legend.direction = 'horizontal';
    // A legend of line samples (solid, dashed) needs its width for them: one per row.
    legend.columns ??= legend.symbolType === 'stroke' ? 1 : 2;
  }
  for (const [key, value] of Object.entries(o)) if (key !== 'data') legendsBelow(value);
}

/** The narrow drawing of a spec (a new object; the wide spec is left as it was). */
export function narrowSpec(spec: TopLevelSpec): TopLevelSpec {
  const copy = structuredClone(spec) as unknown as Json;
  narrowWidth(copy);
  legendsBelow(copy);
  const config = (copy.config ?? {}) as Json;
  copy.config = {
    ...config,
    legend: { orient: 'bottom', direction: 'horizontal', columns: 2, ...(config.legend as Json) },
  };
  return copy as unknown as TopLevelSpec;
}
