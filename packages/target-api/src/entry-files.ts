/**
 * Where the API's own worker thread and worker process start. Run as the bundle the runner makes
 * (dist/, JavaScript: what is measured), their compiled siblings; run from the TypeScript source
 * (tests, `pnpm start`), the boot files that load the source through tsx.
 */
const COMPILED = import.meta.url.endsWith('.js');

export function entryFile(name: 'mail-worker' | 'bullmq-worker-process'): URL {
  if (COMPILED) return new URL(`./${name}.js`, import.meta.url);
  return new URL(
    name === 'mail-worker' ? './mail-worker-boot.mjs' : './bullmq-worker-boot.mjs',
    import.meta.url,
  );
}
