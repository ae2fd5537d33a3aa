/**
 * `--junit FILE`: the run as JUnit XML, the form CI systems read test results in (as k6 and
 * Gatling users wire theirs): one test suite per run, one test case per threshold (failed with the
 * cells that broke it and their values) and one per cell, failed when the cell is invalid (its
 * measurement cannot be trusted) or did not run.
 */
import type { RunInfo, Summary } from '../shapes/run.ts';
import { measuredText } from '../summary/verdict.ts';

function xml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

interface Case {
  name: string;
  classname: string;
  failure: string | null;
}

function casesOf(summary: Summary, cellFiles: string[]): Case[] {
  const cases: Case[] = summary.thresholds.map((t) => ({
    name: `threshold ${t.expr}`,
    classname: 'mailbench.thresholds',
    failure:
      t.failed.length === 0
        ? null
        : `failed by ${t.failed.length} of ${t.cells} cells: ${t.failed
            .map(
              (f) =>
                `${f.file} (${f.actual === null ? (f.note ?? 'no value') : measuredText(t.expr, f.actual)})`,
            )
            .join(', ')}`,
  }));
  const invalid = new Map(summary.invalidCells.map((c) => [c.file, c.reasons]));
  for (const file of cellFiles)
    cases.push({
      name: `cell ${file}`,
      classname: 'mailbench.cells',
      failure: invalid.has(file) ? `invalid: ${(invalid.get(file) ?? []).join('; ')}` : null,
    });
  return cases;
}

export function renderJUnit(summary: Summary, run: RunInfo): string {
  const cases = casesOf(summary, run.cells);
  const failures = cases.filter((c) => c.failure !== null).length;
  const seconds =
    run.endedAt !== null ? (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000 : 0;
  const body = cases
    .map((c) =>
      c.failure === null
        ? `    <testcase name="${xml(c.name)}" classname="${c.classname}"/>`
        : `    <testcase name="${xml(c.name)}" classname="${c.classname}">\n      <failure message="${xml(c.failure)}"/>\n    </testcase>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="mailbench" tests="${cases.length}" failures="${failures}" time="${seconds.toFixed(1)}">
  <testsuite name="${xml(`${run.scenarioName} ${run.runId}`)}" tests="${cases.length}" failures="${failures}" errors="0" time="${seconds.toFixed(1)}" timestamp="${xml(run.startedAt)}">
${body}
  </testsuite>
</testsuites>
`;
}
