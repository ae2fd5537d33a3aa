// Worker threads do not inherit the TypeScript loader: register tsx here, then load the scheduler.
import { register } from 'tsx/esm/api';

register();
await import('./open-loop-worker.ts');
