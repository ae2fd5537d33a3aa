export { runBench, planCells, estimateCellSec, makeRunId } from './run.ts';
export type { BenchPlan, BenchOutcome } from './run.ts';
export { parseBenchArgs, applyOverrides, BENCH_HELP } from './args.ts';
export { loadScenario, listScenarios, applyQuick } from './scenario.ts';
export type { Scenario, VariantName } from './scenario.ts';
export { writeReport, loadRun } from './report.ts';
export { compareRuns, compareSamples } from './compare.ts';
export type { CellResult, RunInfo, Summary, CapacityResult } from './results.ts';
