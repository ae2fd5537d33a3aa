/** The shapes of the result files (documented by schema/results.schema.json) and their writing. */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { ResultsWriteError } from '../shapes/errors.ts';
import path from 'node:path';

/** Writes JSON atomically (see writeText). */
export function writeJson(file: string, data: unknown): void {
  writeText(file, `${JSON.stringify(data, null, 2)}\n`);
}

/**
 * mkdir -p, one level at a time from the deepest folder that exists: Node's recursive mkdir
 * spins without end under /proc (where mkdir fails with ENOENT on a folder it just saw exist).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) mkdirSync(m);
}

/**
 * Writes a file atomically (a temp file, then rename): an interrupted run never leaves half a
 * file, and a failed write (a full disk) leaves neither half a file nor its temp file, only a
 * ResultsWriteError naming the file.
 */
export function writeText(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    makeDirs(path.dirname(file));
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new ResultsWriteError(file, err);
  }
}

/**
 * Writes a group of result files and then the record that lists them, all or nothing: when any
 * write fails, the files of the group already written are removed again, so the record never
 * lists less, or more, than the files on disk.
 */
export function writeListed(
  files: Array<{ file: string; text: string }>,
  record: () => void,
): void {
  const written: string[] = [];
  try {
    for (const f of files) {
      writeText(f.file, f.text);
      written.push(f.file);
    }
    record();
  } catch (err) {
    for (const file of written) rmSync(file, { force: true });
    throw err;
  }
}

/**
 * Text as a part of a file name: anything but letters, digits, '.', '_' and '-' becomes '_', and
 * no leading dot. For names that come from users or from files anyone may have written.
 */
export function safeFileName(text: unknown): string {
  return String(text)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_');
}

export function cellFileName(
  variant: string,
  requests: number,
  repeat: number,
  repeats: number,
): string {
  return `${variant}/${requests}${repeats > 1 ? `-r${repeat}` : ''}.json`;
}
