/** Where results go: --out, relative to where the user stands, or the repository's results/. */
import path from 'node:path';
import { REPO_ROOT } from '../shapes/paths.ts';

/**
 * pnpm runs the script inside packages/runner; INIT_CWD is where the user typed the command.
 * The default folder is the repository's results/; a relative --out is taken from where the user
 * is.
 */
export function resolveOutDir(out: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (out === null) return path.join(REPO_ROOT, 'results');
  return path.resolve(env.INIT_CWD ?? process.cwd(), out);
}
