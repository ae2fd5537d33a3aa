/**
 * pnpm bench as a function: argv in, an exit code out, with its streams, signal and environment
 * given (bench-cli.ts gives it the process's; the tests their own, in-process). It parses the
 * flags, loads the scenario, runs the matrix and prints the summary to stdout.
 * Exit codes: 0 done, 1 unexpected failure or a result that could not be written
 * (ERR_RESULTS_WRITE),
 * 2 bad usage or scenario, 3 a result is invalid,
 * 130 interrupted (partial results written, marked incomplete).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_EXPORT_TARGET,
  DISTRIBUTED_NOTES,
  writeExport,
  type ExportEngine,
} from '../export/export.ts';
import { applyOverrides, benchHelp, parseBenchArgs, type BenchArgs } from './args.ts';
import { findRedisServer, REDIS_INSTALL_HINT } from '@mailbench/redis';
import { ResultsWriteError, UsageError } from '../shapes/errors.ts';
import { pinningUnavailable } from '../services/pinning.ts';
import { Progress } from '../run/progress.ts';
import { renderTerminalSummary } from './terminal.ts';
import { resolveOutDir } from './out-dir.ts';
import { withoutRedisWhenMissing, withoutSeedStackWhenMissing } from '../config/subjects.ts';
import { applyQuick, listScenarios, loadScenario } from '../config/scenario.ts';
import type { Scenario } from '../shapes/scenario.ts';
import { checkSemantics } from '../config/scenario-rules.ts';

/** Where a CLI writes, what stops it, and the environment it reads. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  /** Aborted to stop the run (Ctrl-C): partial results are written, the exit code is 130. */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A scenario path is taken from where the user typed the command (pnpm runs scripts elsewhere). */
function scenarioArgument(text: string, env: NodeJS.ProcessEnv): string {
  const isPath = text.includes('/') || text.includes(path.sep) || text.endsWith('.json');
  return isPath ? path.resolve(env.INIT_CWD ?? process.cwd(), text) : text;
}

export async function benchMain(argv: string[], io: CliIo): Promise<number> {
  const { stdout, stderr } = io;
  let args: BenchArgs;
  let scenario: Scenario;
  try {
    args = parseBenchArgs(argv);
    if (args.help || args.list) {
      const scenarios = listScenarios().map((name) => ({
        name,
        description: loadScenario(name).description,
      }));
      stdout.write(
        args.help
          ? benchHelp(scenarios)
          : scenarios.map((s) => `${s.name.padEnd(14)} ${s.description}\n`).join(''),
      );
      return 0;
    }
    scenario = applyOverrides(
      loadScenario(scenarioArgument(args.scenario, io.env)),
      args.overrides,
    );
    // The flags may have broken a rule across fields (a crash time outside a shorter window, say).
    checkSemantics(scenario, `${args.scenario} with the flags given`);
    if (args.quick) scenario = applyQuick(scenario);
    const cannotPin = scenario.pinCores ? pinningUnavailable() : null;
    if (cannotPin) throw new UsageError('PIN_UNAVAILABLE', `--pin-cores: ${cannotPin}`);
    if (!args.exportEngine && !scenario.target) {
      const redisAvailable = Boolean(io.env.REDIS_URL) || findRedisServer() !== null;
      let { variants, note } = withoutRedisWhenMissing(
        scenario.variants,
        args.overrides.variants,
        redisAvailable,
        REDIS_INSTALL_HINT,
      );
      if (note) stderr.write(`mailbench: ${note}\n`);
      ({ variants, note } = withoutSeedStackWhenMissing(variants, args.overrides.variants));
      if (note) stderr.write(`mailbench: ${note}\n`);
      scenario = {
        ...scenario,
        variants,
        aaControl:
          scenario.aaControl && variants.includes(scenario.aaControl) ? scenario.aaControl : null,
      };
    }
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`mailbench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  if (args.exportEngine) return exportScripts(args, scenario, io);

  // The run's code (the database driver, the charts) is loaded only when something is run.
  const { runBench } = await import('../run/run.ts');
  const progress = new Progress(stderr);
  let outcome: Awaited<ReturnType<typeof runBench>>;
  try {
    outcome = await runBench({
      scenario,
      outDir: resolveOutDir(args.out, io.env),
      mongoEngine: args.mongoEngine,
      mongoUri: args.mongoUri,
      argv,
      overrides: args.overrides,
      signal: io.signal,
      progress,
      aroundLimit: args.aroundLimit,
      sink: args.sink,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`mailbench: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ResultsWriteError) {
      stderr.write(`mailbench: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const written = outcome.reportFile ? 'summary.md, report.html' : 'summary.md; no report.html';
  if (args.json) {
    stdout.write(`${JSON.stringify(outcome.summary, null, 2)}\n`);
    stderr.write(`Results: ${outcome.runDir} (${written})\n`);
  } else {
    stdout.write(renderTerminalSummary(outcome.summary, outcome.run));
    stdout.write(`\nResults: ${outcome.runDir} (${written})\n`);
  }
  if (io.signal.aborted) return 130;
  if (outcome.thresholdsFailed) return 99;
  return outcome.allValid ? 0 : 3;
}

/** --export: the scenario as another engine's script, written into --out; nothing is run. */
function exportScripts(
  args: BenchArgs,
  scenario: Scenario,
  { stdout, stderr, env }: CliIo,
): number {
  const engine = args.exportEngine as ExportEngine;
  const outDir = resolveOutDir(args.out, env);
  try {
    mkdirSync(outDir, { recursive: true });
    const written = writeExport(
      scenario,
      engine,
      scenario.target?.url ?? DEFAULT_EXPORT_TARGET,
      outDir,
    );
    for (const w of written) stdout.write(`${w.file}\n`);
    stderr.write(
      `${DISTRIBUTED_NOTES[engine].map((l) => l.replaceAll('FILE', path.basename(written[0]!.file))).join('\n')}\n`,
    );
  } catch (err) {
    stderr.write(
      `mailbench: cannot write the ${engine} script to ${outDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another folder with --out\n`,
    );
    return 2;
  }
  return 0;
}
