// The run's watchdog process (see watchdog.ts). Lines on stdin: "+pid N", "-pid N", "+group N",
// "-group N", "+dir PATH", "-dir PATH". When stdin ends (the runner exited, however it died), every
// process and group still registered is killed and every folder still registered removed.
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const held = { pid: new Set(), group: new Set(), dir: new Set() };

// Signals meant for the runner's terminal are not the watchdog's: it ends when its pipe does.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const match = /^([+-])(pid|group|dir) (.+)$/.exec(line);
  if (!match) return;
  const [, sign, kind, value] = match;
  if (sign === '+') held[kind].add(value);
  else held[kind].delete(value);
});
lines.on('close', () => {
  for (const pid of held.pid) kill(Number(pid));
  for (const pgid of held.group) kill(-Number(pgid));
  for (const dir of held.dir) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});

function kill(target) {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}
