/** Scenarios: JSON files in scenarios/, validated against schema/scenario.schema.json. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { parseLatency } from '@mailbench/smtp-sink';
import { UsageError } from './errors.ts';

export const VARIANT_NAMES = ['no-email', 'inline', 'background', 'worker-pool', 'outbox'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface Scenario {
  name: string;
  description: string;
  variants: VariantName[];
  requests: number[];
  durationSec: number;
  repeats: number;
  warmup: { requests: number; durationSec: number };
  connection: 'per-request' | 'keep-alive';
  timeoutSec: number;
  hashCost: number;
  smtp: { latency: string; maxConnections: number; maxMessagesPerSec: number; tempFailRate: number; permFailRate: number; seed: number };
  transport: { mode: 'pooled' | 'per-message'; maxConnections: number; maxMessages: number; sendTimeoutMs: number };
  workerPool: { threads: number; concurrentTasksPerWorker: number };
  outbox: { leaseMs: number; pollMs: number };
  drainTimeoutSec: number;
  /** Dispatch error p99 above which a cell is marked generatorBehind. */
  behindThresholdMs: number;
  capacity: { enabled: boolean; connections: number; durationSec: number };
  faults: Faults;
  /** Set by --quick: windows shortened, rates kept (see applyQuick). */
  quick: boolean;
}

export interface Faults {
  crash?: { atSec: number };
  smtpDown?: { fromSec: number; forSec: number };
  badInput?: { share: number };
}

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SCENARIOS_DIR = path.join(REPO_ROOT, 'scenarios');
export const SCHEMA_DIR = fileURLToPath(new URL('../schema/', import.meta.url));

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(data: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    validator = ajv.compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'scenario.schema.json'), 'utf8')));
  }
  return validator(data) ? [] : (validator.errors ?? []);
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') return `${where}: unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'enum') return `${where}: must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
  if (e.keyword === 'required') return `${where}: missing field "${String(e.params.missingProperty)}"`;
  return `${where}: ${e.message ?? 'is invalid'}`;
}

export function listScenarios(dir = SCENARIOS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Validates parsed scenario data (filling defaults); errors name the field and the file. */
export function parseScenario(name: string, data: unknown, file: string): Scenario {
  const errors = validate(data);
  if (errors.length > 0) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n${errors.map((e) => `  - ${describeError(e)}`).join('\n')}`);
  }
  // ajv has filled the defaults of every field it found; the optional blocks may still be absent.
  const raw = data as Omit<Scenario, 'name' | 'quick' | 'description' | 'warmup' | 'workerPool' | 'outbox' | 'capacity'> & {
    description?: string;
    $schema?: string;
    warmup?: Partial<Scenario['warmup']>;
    workerPool?: Partial<Scenario['workerPool']>;
    outbox?: Partial<Scenario['outbox']>;
    capacity?: Partial<Scenario['capacity']>;
    faults?: Faults;
  };
  const { $schema: _schema, ...rest } = raw;
  const scenario: Scenario = {
    ...rest,
    description: raw.description ?? '',
    name,
    quick: false,
    warmup: { requests: 50, durationSec: 5, ...raw.warmup },
    workerPool: { threads: 2, concurrentTasksPerWorker: 16, ...raw.workerPool },
    outbox: { leaseMs: 30_000, pollMs: 1000, ...raw.outbox },
    capacity: { enabled: false, connections: 50, durationSec: 15, ...raw.capacity },
    faults: raw.faults ?? {},
  };
  checkSemantics(scenario, file);
  return scenario;
}

export function checkSemantics(scenario: Scenario, file: string): void {
  try {
    parseLatency(scenario.smtp.latency, 'smtp.latency');
  } catch (err) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n  - ${(err as Error).message}`);
  }
  if (scenario.smtp.tempFailRate + scenario.smtp.permFailRate > 1) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n  - smtp: tempFailRate + permFailRate must not exceed 1`);
  }
  const { crash, smtpDown } = scenario.faults;
  if (crash && crash.atSec >= scenario.durationSec) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n  - faults.crash.atSec (${crash.atSec}) must fall inside the ${scenario.durationSec} s window`);
  }
  if (smtpDown && smtpDown.fromSec >= scenario.durationSec) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n  - faults.smtpDown.fromSec (${smtpDown.fromSec}) must fall inside the ${scenario.durationSec} s window`);
  }
  if (scenario.requests.length === 0 && !scenario.capacity.enabled) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is invalid:\n  - requests: empty, and capacity is not enabled: nothing to run`);
  }
}

export function loadScenario(name: string, dir = SCENARIOS_DIR): Scenario {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    throw new UsageError('ERR_SCENARIO_UNKNOWN', `scenario name "${name}" is not valid; available: ${listScenarios(dir).join(', ')}`);
  }
  const file = path.join(dir, `${name}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError('ERR_SCENARIO_UNKNOWN', `no scenario "${name}" (looked for ${file}); available: ${listScenarios(dir).join(', ')}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError('ERR_SCENARIO_INVALID', `scenario ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(name, data, file);
}

/**
 * --quick: the same arrival rates over shorter windows. The measured window becomes
 * QUICK_WINDOW_SEC (10 s) when longer; each request count is scaled by the same factor
 * (750 over 60 s → 125 over 10 s: 12.5/s either way); warm-up becomes at most 2 s and 20
 * requests; the drain bound at most 60 s; the capacity probe at most 5 s; fault times scale with
 * the window. Repeats stay.
 */
export const QUICK_WINDOW_SEC = 10;
export function applyQuick(scenario: Scenario): Scenario {
  const factor = Math.min(1, QUICK_WINDOW_SEC / scenario.durationSec);
  return {
    ...scenario,
    quick: true,
    durationSec: scenario.durationSec * factor,
    requests: scenario.requests.map((n) => Math.max(1, Math.round(n * factor))),
    warmup: { requests: Math.min(scenario.warmup.requests, 20), durationSec: Math.min(scenario.warmup.durationSec, 2) },
    drainTimeoutSec: Math.min(scenario.drainTimeoutSec, 60),
    capacity: { ...scenario.capacity, durationSec: Math.min(scenario.capacity.durationSec, 5) },
    faults: {
      ...scenario.faults,
      ...(scenario.faults.crash ? { crash: { atSec: scenario.faults.crash.atSec * factor } } : {}),
      ...(scenario.faults.smtpDown ? { smtpDown: { fromSec: scenario.faults.smtpDown.fromSec * factor, forSec: scenario.faults.smtpDown.forSec * factor } } : {}),
    },
  };
}
