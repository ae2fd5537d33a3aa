/** Where the repository's files are, from this package's place in it. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const SCENARIOS_DIR = path.join(REPO_ROOT, 'scenarios');

export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));
