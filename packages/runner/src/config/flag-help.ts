/** What the flags' table gives the CLI: parseArgs' options, the --help text, and the flags that changed what was measured. */
import { BENCH_FLAGS } from './flags.ts';
import type { BenchFlag } from './flag-kinds.ts';
import type { Scenario } from '../shapes/scenario.ts';

/** parseArgs' options for a table of flags. */
export function parseArgsOptions(flags: readonly BenchFlag[] = BENCH_FLAGS) {
  return Object.fromEntries(
    flags.map((f) => [
      f.name,
      {
        type: f.value === null ? ('boolean' as const) : ('string' as const),
        ...(f.multiple ? { multiple: true } : {}),
        ...(f.short ? { short: f.short } : {}),
      },
    ]),
  );
}

/** Words filled into lines of at most `width` characters (a longer word stands alone). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * --help's option lines, group by group, within `width` columns; with `defaults` (the default
 * scenario), each value a scenario sets is stated: "(default: 60s; scenarios set their own)".
 */
export function flagsHelp(
  flags: readonly BenchFlag[] = BENCH_FLAGS,
  width = 100,
  defaults: Scenario | null = null,
): string {
  const indent = ' '.repeat(25);
  const groups = [...new Set(flags.map((f) => f.group))];
  return groups
    .map((group) => {
      const lines = flags
        .filter((f) => f.group === group)
        .flatMap((f) => {
          const head = `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.value ? ` ${f.value}` : ''}`;
          const given = f.fromScenario && defaults ? ` (default: ${f.fromScenario(defaults)})` : '';
          const [first = '', ...rest] = wrapText(
            `${f.help.join(' ')}${given}`,
            width - indent.length,
          );
          const top =
            head.length <= 22
              ? [`  ${head.padEnd(23)}${first}`]
              : [`  ${head}`, `${indent}${first}`];
          return [...top, ...rest.map((l) => `${indent}${l}`)];
        });
      return `${group[0]!.toUpperCase()}${group.slice(1)}:\n${lines.join('\n')}`;
    })
    .join('\n\n');
}

/**
 * The flags of a command line that change what is measured, as typed ("--flask-workers 1"): what
 * a run records as its overrides.
 */
export function measuredFlags(argv: string[], flags: readonly BenchFlag[] = BENCH_FLAGS): string[] {
  const byName = new Map(flags.map((f) => [`--${f.name}`, f]));
  const out: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k] as string;
    const def = byName.get(arg.split('=')[0] as string);
    if (!def) continue;
    const takesValue = def.value !== null && !arg.includes('=');
    const text = takesValue && argv[k + 1] !== undefined ? `${arg} ${argv[++k]}` : arg;
    if (def.measured) out.push(text);
  }
  return out;
}
