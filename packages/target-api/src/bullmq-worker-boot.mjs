// A forked process does not inherit the TypeScript loader: register tsx here, then load the real
// worker.
import { register } from 'tsx/esm/api';

register();
await import('./bullmq-worker-process.ts');
