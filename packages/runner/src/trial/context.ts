/**
 * What every trial (a cell, a breaking-point step, a capacity probe) is given by its run: the
 * services, who its sign-ups are, where progress goes; and the database it runs on.
 */
import type { MongoClient } from 'mongodb';
import type { ProgressEvent } from '@mailbench/loadgen';
import type { SmtpSink } from '@mailbench/smtp-sink';
import type { SignupNames } from '../config/requests.ts';
import type { ApiServer } from '../targets/api-server.ts';
import type { FactorValue, Scenario, Subject, TargetSpec } from '../shapes/scenario.ts';

export interface CellContext {
  runId: string;
  scenario: Scenario;
  /** Who this run's sign-ups are (its tag in every username and address). */
  names: SignupNames;
  /** The database the built-in API is started on; null with --target (the harness starts none). */
  mongoUri: string | null;
  /** The run's Redis, for the variants that need one. */
  redisUrl?: string | null;
  /**
   * The runner's connection to the cells' database, for counting users and cleaning up: its own
   * (each cell's database is dropped), or an external target's (--target-mongo-uri), or null.
   */
  client: MongoClient | null;
  /** --target: the API the cells load instead of a forked one. */
  target: TargetSpec | null;
  sink: SmtpSink;
  signal: AbortSignal;
  onProgress: (event: ProgressEvent) => void;
  /** Told when a cell enters a phase without progress events of its own (warm-up, drain). */
  onPhase?: (text: string) => void;
  onServer: (server: ApiServer | null) => void;
}

export interface CellSpec {
  index: number;
  variant: Subject;
  /** How the cell is shown and filed: the variant, or its A/A twin. */
  label: string;
  requests: number;
  repeat: number;
  /** The swept factor's value this cell runs at, or null. */
  factor: FactorValue | null;
}

/**
 * A trial's own database: the run's id and what the trial is (a cell, a step, a probe), in
 * database-name characters.
 */
export function dbNameFor(runId: string, what: string): string {
  return `mb_${runId}_${what}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
}
