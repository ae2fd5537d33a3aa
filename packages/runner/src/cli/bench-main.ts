/**
 * pnpm bench as a function: argv in, an exit code out, with its streams, signal and environment
 * given (bench-cli.ts gives it the process's; the tests their own, in-process). It parses the
 * flags, loads the scenario, runs the matrix and prints the summary to stdout.
 * Exit codes: 0 done, 1 unexpected failure or a result that could not be written
 * (ERR_RESULTS_WRITE),
 * 2 bad usage or scenario, 3 a result is invalid,
 * 130 interrupted (partial results written, marked incomplete).
 */
import { makeDirs, writeText } from '../results/files.ts';
import { lastCapacity, overloadWarning } from '../results/capacity-history.ts';
import os from 'node:os';
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
import { gitInfo, runnerVersion } from '../services/environment.ts';
import { Progress, widthOf, wrapLine } from '../run/progress.ts';
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

/** `mailbench 0.1.0 (git 5b6e49b, dirty), Node v20.20.2`. */
export function versionLine(): string {
  const { commit, dirty } = gitInfo();
  const git = commit ? `git ${commit.slice(0, 7)}${dirty ? ', dirty' : ''}` : 'no git checkout';
  return `mailbench ${runnerVersion()} (${git}), Node ${process.version}`;
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
    if (args.version) {
      stdout.write(`${versionLine()}\n`);
      return 0;
    }
    if (args.help || args.list) {
      const scenarios = listScenarios().map((name) => ({
        name,
        description: loadScenario(name).description,
      }));
      stdout.write(
        args.help
          ? benchHelp(
              scenarios,
              listScenarios().includes('default') ? loadScenario('default') : null,
            )
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

  // Overload said before it costs time: the peak against the last capacity probe made here.
  const outDir = resolveOutDir(args.out, io.env);
  const overload = overloadWarning(scenario, () =>
    lastCapacity(outDir, { hashCost: scenario.hashCost, hostname: os.hostname() }),
  );
  if (overload) stderr.write(`${wrapLine(`mailbench: warning: ${overload}`, widthOf(stderr))}\n`);

  // The run's code (the database driver, the charts) is loaded only when something is run.
  const { runBench } = await import('../run/run.ts');
  const progress = new Progress(stderr, { quiet: args.quiet });
  let outcome: Awaited<ReturnType<typeof runBench>>;
  try {
    outcome = await runBench({
      scenario,
      outDir,
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
  return finishRun(args, outcome, io);
}

/**
 * After a run: the summary (Markdown or JSON), the JUnit file, and the exit code with its reason
 * on stderr.
 */
async function finishRun(
  args: BenchArgs,
  outcome: Awaited<ReturnType<typeof import('../run/run.ts').runBench>>,
  io: CliIo,
): Promise<number> {
  const { stdout, stderr } = io;
  const written = outcome.reportFile ? 'summary.md, report.html' : 'summary.md; no report.html';
  if (args.json) {
    stdout.write(`${JSON.stringify(outcome.summary, null, 2)}\n`);
    stderr.write(`Results: ${outcome.runDir} (${written})\n`);
  } else {
    stdout.write(renderTerminalSummary(outcome.summary, outcome.run, widthOf(stdout)));
    stdout.write(`\nResults: ${outcome.runDir} (${written})\n`);
  }
  if (args.junit) {
    const file = path.resolve(io.env.INIT_CWD ?? process.cwd(), args.junit);
    const { renderJUnit } = await import('../render/junit.ts');
    try {
      writeText(file, renderJUnit(outcome.summary, outcome.run));
      stderr.write(`JUnit XML: ${file}\n`);
    } catch (err) {
      stderr.write(`mailbench: --junit: ${(err as Error).message}\n`);
      return 1;
    }
  }
  if (io.signal.aborted) return 130;
  // The exit code's reason in one line on stderr, --json or not (stdout may be a pipe to jq).
  const summary = outcome.summary;
  if (outcome.thresholdsFailed) {
    const failed = summary.thresholds.filter((t) => t.failed.length > 0);
    stderr.write(
      `mailbench: exit 99: ${failed.length} threshold${failed.length === 1 ? '' : 's'} failed: ${failed
        .map((t) => `${t.expr} (${t.failed.length} of ${t.cells} cells)`)
        .join(', ')}\n`,
    );
    return 99;
  }
  if (!outcome.allValid) {
    const invalid = summary.invalidCells.length;
    stderr.write(
      `mailbench: exit 3: ${invalid > 0 ? `${invalid} cell${invalid === 1 ? '' : 's'} invalid (their measurement cannot be trusted; see the verdict)` : 'the run is incomplete or has invalid results (see the verdict)'}\n`,
    );
    return 3;
  }
  return 0;
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
    makeDirs(outDir);
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
