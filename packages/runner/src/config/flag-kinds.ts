/**
 * What a flag of `pnpm bench` is: its name and value, its group and help, how its text is parsed
 * and where the value goes. The table itself is flags.ts (with output-flags.ts).
 */
import type { Overrides, Scenario } from '../shapes/scenario.ts';

export type FlagGroup =
  | 'what runs'
  | 'load'
  | 'SMTP'
  | 'the API'
  | "the original's stack"
  | 'your own API'
  | 'output and CI';

export interface BenchFlag {
  name: string;
  /** The value's placeholder in --help; null for a switch. */
  value: string | null;
  short?: string;
  /** May be given several times (each value kept). */
  multiple?: boolean;
  group: FlagGroup;
  /**
   * Changes what is measured: named in every summary's "overridden by" (where results go or which
   * database serves does not).
   */
  measured: boolean;
  /** --help's lines for it. */
  help: string[];
  /**
   * The value the default scenario gives it, for --help's "(default: …)"; a flag without one
   * defaults to nothing (off) or says its default in its help.
   */
  fromScenario?: (s: Scenario) => string;
  /**
   * Parses a given value into the overrides; flags without one are the run's own settings
   * (args.ts).
   */
  read?: (text: string, into: Overrides) => void;
}

/** A table entry, typed. */
export const flag = (f: BenchFlag): BenchFlag => f;
