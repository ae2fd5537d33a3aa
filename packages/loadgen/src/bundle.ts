/**
 * TypeScript entry points bundled into JavaScript for Node (npm imports left as imports), so that
 * what is measured runs without a TypeScript loader: the generator's scheduler thread here, the
 * API for the runner. Written atomically file by file: a process starting one of them while
 * another process bundles it again never reads half a file.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles each entry (name → source file) into outdir/<name>.js; returns outdir/<name>.js by name.
 */
export async function bundleForNode(
  entries: Record<string, string>,
  outdir: string,
): Promise<Record<string, string>> {
  const result = await build({
    entryPoints: entries,
    outdir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  mkdirSync(outdir, { recursive: true });
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.tmp-${process.pid}`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
  return Object.fromEntries(
    Object.keys(entries).map((name) => [name, path.join(outdir, `${name}.js`)]),
  );
}
