/**
 * A chart of the report: a Vega-Lite spec with its title, explanation and the points it must draw.
 */
import type { TopLevelSpec } from 'vega-lite';

export interface Chart {
  id: string;
  title: string;
  explain: string;
  spec: TopLevelSpec;
  /** How many data points the chart should draw (checked by the browser test). */
  points: number;
}
