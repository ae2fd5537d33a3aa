// Worker threads do not inherit the TypeScript loader: register tsx here, then load the real
// worker.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./mail-worker.ts');
export default worker.default;
