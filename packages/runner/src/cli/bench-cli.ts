/**
 * pnpm bench: parse flags, load the scenario, run the matrix, print the summary to stdout.
 * Exit codes: 0 done, 1 unexpected failure or a result that could not be written (ERR_RESULTS_WRITE),
 * 2 bad usage or scenario, 3 a result is invalid,
 * 130 interrupted (partial results written, marked incomplete).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_EXPORT_TARGET, DISTRIBUTED_NOTES, writeExport, type ExportEngine } from '../export/export.ts';
import { applyOverrides, benchHelp, parseBenchArgs, type BenchArgs } from './args.ts';
import { findRedisServer, REDIS_INSTALL_HINT } from '@mailbench/redis';
import { ResultsWriteError, UsageError } from '../shapes/errors.ts';
import { Progress } from '../run/progress.ts';
import { runBench } from '../run/run.ts';
import { renderTerminalSummary } from './terminal.ts';
import { resolveOutDir } from './out-dir.ts';
import { withoutRedisWhenMissing, withoutSeedStackWhenMissing } from '../config/subjects.ts';
import { applyQuick, checkSemantics, listScenarios, loadScenario } from '../config/scenario.ts';
import type { Scenario } from '../shapes/scenario.ts';

/** A scenario path is taken from where the user typed the command (pnpm runs scripts elsewhere). */
function scenarioArgument(text: string): string {
  const isPath = text.includes('/') || text.includes(path.sep) || text.endsWith('.json');
  return isPath ? path.resolve(process.env.INIT_CWD ?? process.cwd(), text) : text;
}

// A reader that went away (pnpm bench | head) must not end the run: results are still written.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let args: BenchArgs;
  let scenario: Scenario;
  try {
    args = parseBenchArgs(argv);
    if (args.help || args.list) {
      const scenarios = listScenarios().map((name) => ({ name, description: loadScenario(name).description }));
      process.stdout.write(args.help ? benchHelp(scenarios) : scenarios.map((s) => `${s.name.padEnd(14)} ${s.description}\n`).join(''));
      return 0;
    }
    scenario = applyOverrides(loadScenario(scenarioArgument(args.scenario)), args.overrides);
    // The flags may have broken a rule across fields (a crash time outside a shorter window, say).
    checkSemantics(scenario, `${args.scenario} with the flags given`);
    if (args.quick) scenario = applyQuick(scenario);
    if (!args.exportEngine && !scenario.target) {
      const redisAvailable = Boolean(process.env.REDIS_URL) || findRedisServer() !== null;
      let { variants, note } = withoutRedisWhenMissing(scenario.variants, args.overrides.variants, redisAvailable, REDIS_INSTALL_HINT);
      if (note) process.stderr.write(`mailbench: ${note}\n`);
      ({ variants, note } = withoutSeedStackWhenMissing(variants, args.overrides.variants));
      if (note) process.stderr.write(`mailbench: ${note}\n`);
      scenario = { ...scenario, variants, aaControl: scenario.aaControl && variants.includes(scenario.aaControl) ? scenario.aaControl : null };
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mailbench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  if (args.exportEngine) return exportScripts(args, scenario);

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (name: string) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write('\nmailbench: second interrupt, exiting now\n');
      process.exit(130);
    }
    process.stderr.write(`\nmailbench: ${name}: stopping every child process and writing partial results (again to force)\n`);
    controller.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const progress = new Progress();
  let outcome: Awaited<ReturnType<typeof runBench>>;
  try {
    outcome = await runBench({
      scenario,
      outDir: resolveOutDir(args.out),
      mongoEngine: args.mongoEngine,
      mongoUri: args.mongoUri,
      argv,
      overrides: args.overrides,
      signal: controller.signal,
      progress,
      aroundLimit: args.aroundLimit,
      sink: args.sink,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mailbench: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ResultsWriteError) {
      process.stderr.write(`mailbench: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const written = outcome.reportFile ? 'summary.md, report.html' : 'summary.md; no report.html';
  if (args.json) {
    process.stdout.write(`${JSON.stringify(outcome.summary, null, 2)}\n`);
    process.stderr.write(`Results: ${outcome.runDir} (${written})\n`);
  } else {
    process.stdout.write(renderTerminalSummary(outcome.summary, outcome.run));
    process.stdout.write(`\nResults: ${outcome.runDir} (${written})\n`);
  }
  if (controller.signal.aborted) return 130;
  if (outcome.thresholdsFailed) return 99;
  return outcome.allValid ? 0 : 3;
}

/** --export: the scenario as another engine's script, written into --out; nothing is run. */
function exportScripts(args: BenchArgs, scenario: Scenario): number {
  const engine = args.exportEngine as ExportEngine;
  const outDir = resolveOutDir(args.out);
  try {
    mkdirSync(outDir, { recursive: true });
    const written = writeExport(scenario, engine, scenario.target?.url ?? DEFAULT_EXPORT_TARGET, outDir);
    for (const w of written) process.stdout.write(`${w.file}\n`);
    process.stderr.write(`${DISTRIBUTED_NOTES[engine].map((l) => l.replaceAll('FILE', path.basename(written[0]!.file))).join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`mailbench: cannot write the ${engine} script to ${outDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another folder with --out\n`);
    return 2;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mailbench: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
