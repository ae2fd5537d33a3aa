/** The runner as a library: run a scenario, load and report a run folder, compare two. */
export { runBench } from './run/run.ts';
export type { BenchPlan, BenchOutcome } from './run/plan.ts';
export { planCells, estimateCellSec } from './run/plan.ts';
export { makeRunId } from './results/run-dir.ts';
export { parseBenchArgs, applyOverrides, benchHelp } from './cli/args.ts';
export { loadScenario, listScenarios, applyQuick } from './config/scenario.ts';
export type { Scenario } from './shapes/scenario.ts';
export { judgeCell } from './judge/judge.ts';
export type { Judgement } from './judge/judge.ts';
export { writeReport } from './render/report.ts';
export { loadRun } from './results/load.ts';
export { compareRuns, compareSamples } from './summary/compare.ts';
export type { CellResult, CapacityResult } from './shapes/results.ts';
export type { RunInfo, Summary } from './shapes/run.ts';
