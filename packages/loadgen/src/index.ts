export {
  isExpected2xx,
  resolveSchedule,
  resultFromSamples,
  runOpenLoop,
  validateOpenLoopOptions,
} from './open-loop.ts';
export {
  describeStages,
  evenDueTimes,
  stageDueTimes,
  stageRates,
  stagesCount,
  stagesDurationMs,
  validateStages,
  type RateStage,
} from './schedule.ts';
export { runClosedLoop } from './closed-loop.ts';
export type { ClosedLoopOptions, ClosedLoopResult } from './closed-loop.ts';
export { summarize } from './histogram.ts';
export { bundleForNode } from './bundle.ts';
export { LoadgenError } from './errors.ts';
export { probeBaseUrl } from './probe.ts';
export type {
  RequestSpec,
  Sample,
  LatencySummary,
  OpenLoopOptions,
  OpenLoopResult,
  ProgressEvent,
  ConnectionMode,
} from './types.ts';
