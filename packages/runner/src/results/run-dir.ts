/** A run's folder: its id, and the folder made exclusively for it before any load. */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../shapes/errors.ts';
import { makeDirs, safeFileName } from './files.ts';

/** The run's id: its start to the second, then the scenario's name (in file-name characters). */
export function makeRunId(scenarioName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${safeFileName(scenarioName)}`;
}

/**
 * Creates the run's folder, exclusively: a run never writes into another's. Two runs started in
 * the same second get `<id>` and `<id>-2`. Fails before any load if the folder cannot be written.
 */
export function prepareRunDir(outDir: string, runId: string): { runDir: string; runId: string } {
  const unwritable = (where: string, err: unknown) =>
    new UsageError(
      'ERR_OUT_UNWRITABLE',
      `cannot write results to ${where} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another folder with --out`,
    );
  const parent = path.resolve(outDir);
  try {
    makeDirs(parent);
  } catch (err) {
    throw unwritable(parent, err);
  }
  for (let k = 1; k <= 100; k++) {
    const id = k === 1 ? runId : `${runId}-${k}`;
    const runDir = path.join(parent, id);
    try {
      mkdirSync(runDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw unwritable(runDir, err);
    }
    try {
      accessSync(runDir, constants.W_OK);
      const probe = path.join(runDir, '.write-test');
      writeFileSync(probe, 'ok');
      rmSync(probe);
    } catch (err) {
      rmSync(runDir, { recursive: true, force: true });
      throw unwritable(runDir, err);
    }
    return { runDir, runId: id };
  }
  throw new UsageError(
    'ERR_OUT_UNWRITABLE',
    `${parent} already holds 100 runs named ${runId}; choose another folder with --out`,
  );
}
