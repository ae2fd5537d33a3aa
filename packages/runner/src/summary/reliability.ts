/** The reliability table: per variant, what became of every request and every owed e-mail. */
import type { ReliabilityRow, Summary } from '../shapes/run.ts';
import type { CellResult } from '../shapes/results.ts';

/** Per variant and request count, summed over repeats: what happened to the mail. */
export function reliabilityRows(cells: CellResult[]): ReliabilityRow[] {
  const rows: ReliabilityRow[] = [];
  const ok = cells.filter((c) => c.status === 'ok');
  const keys = [...new Set(ok.map((c) => `${c.requests}\u0000${c.label}`))];
  const labelOrder = [...new Set(ok.map((c) => c.label))];
  for (const key of keys) {
    const [requests, label] = key.split('\u0000') as [string, string];
    const group = ok.filter((c) => c.label === label && c.requests === Number(requests));
    const sum = (f: (c: CellResult) => number) => group.reduce((a, c) => a + f(c), 0);
    const bad = group.map((c) => c.faults?.badInput).filter((b) => b != null);
    rows.push({
      variant: (group[0] as CellResult).variant,
      label,
      requests: Number(requests),
      expected: sum((c) => c.emails.expected),
      delivered: sum((c) => c.emails.delivered),
      lost: sum((c) => c.emails.lost),
      abandoned: sum((c) => c.emails.abandoned),
      held: sum((c) => c.emails.held),
      failed: sum((c) => c.emails.failed ?? 0),
      failedButDeliveredLater: sum((c) => c.emails.failedButDeliveredLater ?? 0),
      duplicated: sum((c) => c.emails.duplicated),
      deliveredNotOwed: sum((c) => c.emails.deliveredNotOwed ?? 0),
      retried: sum((c) => c.emails.retried ?? 0),
      strayUsers: sum((c) =>
        Math.max(0, (c.accounting.usersInDb ?? 0) - c.accounting.responses2xx),
      ),
      drainSec: maxOf(group.map((c) => c.emails.drainSec)),
      crashDownSec: maxOf(group.map((c) => c.faults?.crash?.downSec ?? null)),
      smtpRecoverySec: maxOf(group.map((c) => c.faults?.smtpDown?.recoverySec ?? null)),
      badInputAnswered: bad.length
        ? `${bad.reduce((a, b) => a + b.answeredAsExpected, 0)} / ${bad.reduce((a, b) => a + b.sent, 0)}`
        : null,
    });
  }
  return rows.sort(
    (a, b) => a.requests - b.requests || labelOrder.indexOf(a.label) - labelOrder.indexOf(b.label),
  );
}

/** The reliability columns, each with its cell; the fault columns only where a fault gave them a value. */
export function reliabilityColumns(
  summary: Pick<Summary, 'reliability'>,
): Array<[string, (r: Summary['reliability'][number]) => string]> {
  const n = (v: number | null) => (v === null ? '–' : v.toFixed(1));
  const rows = summary.reliability;
  const columns: Array<[string, (r: (typeof rows)[number]) => string]> = [
    ['variant', (r) => r.label],
    ['requests', (r) => String(r.requests)],
    ['e-mails owed', (r) => String(r.expected)],
    ['delivered', (r) => String(r.delivered)],
    ['failed', (r) => String(r.failed)],
    ['failed, delivered later', (r) => String(r.failedButDeliveredLater)],
    ['abandoned at shutdown', (r) => String(r.abandoned)],
    ['held at shutdown', (r) => String(r.held)],
    ['lost', (r) => String(r.lost)],
    ['duplicated', (r) => String(r.duplicated)],
    ['not owed', (r) => String(r.deliveredNotOwed)],
    ['retried', (r) => String(r.retried)],
    ['stray users', (r) => String(r.strayUsers)],
    ['drain s', (r) => n(r.drainSec)],
  ];
  if (rows.some((r) => r.crashDownSec !== null))
    columns.push(['crash: API down s', (r) => n(r.crashDownSec)]);
  if (rows.some((r) => r.smtpRecoverySec !== null))
    columns.push(['SMTP down: recovery s', (r) => n(r.smtpRecoverySec)]);
  if (rows.some((r) => r.badInputAnswered !== null))
    columns.push(['bad input answered 4xx', (r) => r.badInputAnswered ?? '–']);
  return columns;
}

export function renderReliabilityMarkdown(rows: ReliabilityRow[]): string[] {
  const columns = reliabilityColumns({ reliability: rows });
  const lines = [
    '## Reliability: what happened to the mail',
    '',
    'Each owed e-mail (one per 201) ends in exactly one of: delivered, failed (the server reported it failed and it never arrived), failed but delivered later (reported failed, arrived all the same), lost (never arrived, never reported: silent). "duplicated" counts extra copies; "not owed" counts e-mails of sign-ups whose reply failed; "stray users" were stored without a 2xx reply.',
    '',
    `| ${columns.map(([title]) => title).join(' | ')} |`,
    `|---|${columns
      .slice(1)
      .map(() => '---:')
      .join('|')}|`,
  ];
  for (const r of rows) lines.push(`| ${columns.map(([, cell]) => cell(r)).join(' | ')} |`);
  return lines;
}
export function maxOf(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : Math.max(...v);
}
