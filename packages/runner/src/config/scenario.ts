/**
 * Scenarios: JSON files in scenarios/ (or any path), validated against schema/scenario.schema.json.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseLatency, validateLatency, type LatencySpec } from '@mailbench/smtp-sink';
import { DEFAULT_OPTIONS } from '@mailbench/target-api/contract';
import { stagesCount, stagesDurationMs, type RateStage } from '@mailbench/loadgen/schedule';
import { UsageError } from '../shapes/errors.ts';
import { factorValues, labelWith } from './factors.ts';
import { SCENARIOS_DIR, SCHEMA_DIR } from '../shapes/paths.ts';
import {
  type FactorValue,
  type Threshold,
  EXTERNAL,
  type Subject,
  type BreakingPointSettings,
  type Scenario,
} from '../shapes/scenario.ts';
import { parseThreshold } from './thresholds.ts';
import { checkSemantics, invalidScenario } from './scenario-rules.ts';

interface ScenarioSchema {
  properties: Record<
    string,
    { default?: unknown; properties?: Record<string, { default?: unknown }> }
  >;
}

/** schema/scenario.schema.json, read once. */
let schemaText: ScenarioSchema | undefined;
function scenarioSchema(): ScenarioSchema {
  schemaText ??= JSON.parse(
    readFileSync(path.join(SCHEMA_DIR, 'scenario.schema.json'), 'utf8'),
  ) as ScenarioSchema;
  return schemaText;
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(data: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    // A copy: ajv annotates the schema object it compiles.
    validator = ajv.compile(structuredClone(scenarioSchema()));
  }
  return validator(data) ? [] : (validator.errors ?? []);
}

function describeError(e: ErrorObject): string {
  const where =
    e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties')
    return `${where}: unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum')
    return `${where}: must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
  if (e.keyword === 'required')
    return `${where}: missing field "${String(e.params.missingProperty)}"`;
  return `${where}: ${e.message ?? 'is invalid'}`;
}

/**
 * A top-level default of the scenario schema (the one place scenario-level defaults are written).
 */
export function scenarioDefault<K extends keyof Scenario>(field: K): Scenario[K] {
  return structuredClone(scenarioSchema().properties[field]?.default) as Scenario[K];
}

/** The breaking-point block's defaults, from the schema. */
export function breakingPointDefaults(): BreakingPointSettings {
  const block = scenarioSchema().properties.breakingPoint?.properties ?? {};
  return Object.fromEntries(
    Object.entries(block).map(([k, v]) => [k, v.default]),
  ) as unknown as BreakingPointSettings;
}

export function listScenarios(dir = SCENARIOS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/**
 * What ajv leaves after filling the schema's defaults: the API-owned fields may still be absent.
 */
type ValidatedScenario = Omit<
  Scenario,
  | 'name'
  | 'quick'
  | 'smtp'
  | 'transport'
  | 'workerPool'
  | 'outbox'
  | 'agenda'
  | 'bullmq'
  | 'thresholds'
  | 'stages'
  | 'target'
> & {
  stages?: RateStage[];
  thresholds: Array<string | { expr: string }>;
  $schema?: string;
  smtp: Omit<Scenario['smtp'], 'latency'> & { latency: string | LatencySpec };
  transport: Partial<Scenario['transport']>;
  workerPool: Partial<Scenario['workerPool']>;
  outbox: Partial<Scenario['outbox']>;
  agenda: Partial<Scenario['agenda']>;
  bullmq: Partial<Scenario['bullmq']>;
};

/** The latency as a typed value, from either the text form or the recorded object form. */
function readLatency(value: string | LatencySpec, file: string): LatencySpec {
  try {
    return typeof value === 'string'
      ? parseLatency(value, 'smtp.latency')
      : validateLatency(value, 'smtp.latency');
  } catch (err) {
    throw invalidScenario(file, [(err as Error).message]);
  }
}

/** The thresholds as typed values, from their text (or the recorded form, which keeps the text). */
function readThresholds(list: Array<string | { expr: string }>, file: string): Threshold[] {
  try {
    return list.map((t) => parseThreshold(typeof t === 'string' ? t : t.expr));
  } catch (err) {
    throw invalidScenario(file, [(err as Error).message]);
  }
}

/** Validates parsed scenario data (filling defaults); errors name the field and the file. */
export function parseScenario(name: string, data: unknown, file: string): Scenario {
  const errors = validate(data);
  if (errors.length > 0) throw invalidScenario(file, errors.map(describeError));
  const { $schema: _schema, ...raw } = data as ValidatedScenario;
  const api = DEFAULT_OPTIONS;
  const scenario: Scenario = {
    ...raw,
    name,
    quick: false,
    target: null,
    stages: raw.stages ?? null,
    smtp: { ...raw.smtp, latency: readLatency(raw.smtp.latency, file) },
    transport: {
      mode: raw.transport.mode ?? api.smtp.transport,
      maxConnections: raw.transport.maxConnections ?? api.smtp.maxConnections,
      maxMessages: raw.transport.maxMessages ?? api.smtp.maxMessages,
      sendTimeoutMs: raw.transport.sendTimeoutMs ?? api.smtp.sendTimeoutMs,
    },
    workerPool: { ...api.workerPool, ...raw.workerPool },
    outbox: {
      leaseMs: raw.outbox.leaseMs ?? api.outbox.leaseMs,
      pollMs: raw.outbox.pollMs ?? api.outbox.pollMs,
    },
    agenda: {
      processEveryMs: raw.agenda.processEveryMs ?? api.agenda.processEveryMs,
      lockLifetimeMs: raw.agenda.lockLifetimeMs ?? api.agenda.lockLifetimeMs,
      concurrency: raw.agenda.concurrency ?? null,
    },
    bullmq: {
      concurrency: raw.bullmq.concurrency ?? null,
      attempts: raw.bullmq.attempts ?? api.bullmq.attempts,
      backoffMs: raw.bullmq.backoffMs ?? api.bullmq.backoffMs,
      lockMs: raw.bullmq.lockMs ?? api.bullmq.lockMs,
    },
    thresholds: readThresholds(raw.thresholds, file),
  };
  if (raw.stages && raw.requests.length > 0)
    throw invalidScenario(file, ['give requests or stages, not both']);
  checkSemantics(scenario, file);
  return withStages(scenario);
}

/** With a load profile, the matrix is one cell per variant: its count over its length. */
export function withStages(scenario: Scenario): Scenario {
  if (!scenario.stages) return scenario;
  return {
    ...scenario,
    requests: [stagesCount(scenario.stages)],
    durationSec: stagesDurationMs(scenario.stages) / 1000,
  };
}

/**
 * The labels of a scenario's cells, in order: each variant (at each swept value), and the A/A twin
 * right after its variant.
 */
export function cellLabels(
  scenario: Pick<Scenario, 'variants' | 'aaControl' | 'sweep' | 'target'>,
): Array<{ label: string; variant: Subject; factor: FactorValue | null }> {
  if (scenario.target) return [{ label: scenario.target.label, variant: EXTERNAL, factor: null }];
  const labels: Array<{ label: string; variant: Subject; factor: FactorValue | null }> = [];
  for (const factor of factorValues(scenario)) {
    for (const variant of scenario.variants) {
      labels.push({ label: labelWith(variant, factor), variant, factor });
      if (variant === scenario.aaControl)
        labels.push({ label: labelWith(aaLabel(variant), factor), variant, factor });
    }
  }
  return labels;
}

export function aaLabel(variant: Subject): string {
  return `${variant}-aa`;
}

/**
 * Whether a cell's label is the A/A twin's of its variant (at its swept value): a copy, never a
 * candidate of its own. A --target's own label is not one.
 */
export function isTwinLabel(label: string, variant: Subject, factor: FactorValue | null): boolean {
  return label === labelWith(aaLabel(variant), factor);
}

/**
 * A scenario by name (scenarios/NAME.json) or by the path of a JSON file (anything with a slash or
 * ending in .json).
 */
export function loadScenario(nameOrPath: string, dir = SCENARIOS_DIR): Scenario {
  const isPath =
    nameOrPath.includes('/') || nameOrPath.includes(path.sep) || nameOrPath.endsWith('.json');
  if (!isPath && !/^[a-z0-9][a-z0-9._-]*$/i.test(nameOrPath)) {
    throw new UsageError(
      'ERR_SCENARIO_UNKNOWN',
      `scenario name "${nameOrPath}" is not valid; available: ${listScenarios(dir).join(', ')}`,
    );
  }
  const file = isPath ? path.resolve(nameOrPath) : path.join(dir, `${nameOrPath}.json`);
  const name = isPath ? path.basename(file).replace(/\.json$/, '') : nameOrPath;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(
      'ERR_SCENARIO_UNKNOWN',
      `no scenario "${nameOrPath}" (looked for ${file}); available: ${listScenarios(dir).join(', ')}, or the path of a scenario file`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      'ERR_SCENARIO_INVALID',
      `scenario ${file} is not valid JSON: ${(err as Error).message}`,
    );
  }
  return parseScenario(name, data, file);
}

/**
 * --quick: the same arrival rates over shorter windows. The measured window becomes
 * QUICK_WINDOW_SEC (10 s) when longer; each request count is scaled by the same factor
 * (750 over 60 s → 125 over 10 s: 12.5/s either way); warm-up becomes at most 2 s and 20
 * requests; the drain bound at most 60 s; the capacity probe at most 5 s; fault times scale with
 * the window; stages keep their rates over proportionally shorter stages; breaking-point steps
 * halve, never below 20 s, with at most 3 bisections. Repeats stay.
 */
export const QUICK_WINDOW_SEC = 10;
/**
 * A breaking-point step is never shorter than this, --quick included: a shorter step does not reach
 * its steady state.
 */
export const MIN_QUICK_STEP_SEC = 20;
export function applyQuick(scenario: Scenario): Scenario {
  const factor = Math.min(1, QUICK_WINDOW_SEC / scenario.durationSec);
  const bp = scenario.breakingPoint;
  return withStages({
    ...scenario,
    quick: true,
    stages: scenario.stages
      ? scenario.stages.map((st) => ({ ...st, durationSec: st.durationSec * factor }))
      : null,
    breakingPoint: {
      ...bp,
      stepSec: Math.min(bp.stepSec, Math.max(MIN_QUICK_STEP_SEC, bp.stepSec / 2)),
      bisections: Math.min(bp.bisections, 3),
    },
    durationSec: scenario.durationSec * factor,
    requests: scenario.requests.map((n) => Math.max(1, Math.round(n * factor))),
    sweep: scenario.sweep?.requestsAt
      ? {
          ...scenario.sweep,
          requestsAt: Object.fromEntries(
            Object.entries(scenario.sweep.requestsAt).map(([v, counts]) => [
              v,
              counts.map((n) => Math.max(1, Math.round(n * factor))),
            ]),
          ),
        }
      : scenario.sweep,
    warmup: {
      requests: Math.min(scenario.warmup.requests, 20),
      durationSec: Math.min(scenario.warmup.durationSec, 2),
    },
    drainTimeoutSec: Math.min(scenario.drainTimeoutSec, 60),
    capacity: { ...scenario.capacity, durationSec: Math.min(scenario.capacity.durationSec, 5) },
    faults: {
      ...scenario.faults,
      ...(scenario.faults.crash ? { crash: { atSec: scenario.faults.crash.atSec * factor } } : {}),
      ...(scenario.faults.smtpDown
        ? {
            smtpDown: {
              fromSec: scenario.faults.smtpDown.fromSec * factor,
              forSec: scenario.faults.smtpDown.forSec * factor,
            },
          }
        : {}),
    },
  });
}
