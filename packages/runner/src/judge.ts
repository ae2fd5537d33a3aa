/** The judgement of a cell: a pure function of the cell and its scenario, usable on stored results. */
import { isVariant, variantFacts } from '@mailbench/target-api/contract';
import type { CellResult } from './results.ts';
import type { Scenario } from './scenario.ts';

export interface Judgement {
  valid: boolean;
  reasons: string[];
}

/** valid: false, with reasons, whenever the accounting does not add up. */
export function judgeCell(cell: CellResult, scenario: Pick<Scenario, 'faults'>): Judgement {
  if (cell.status === 'failed') return { valid: false, reasons: [`cell failed: ${cell.error ?? 'unknown error'}`] };
  const reasons: string[] = [];
  if (cell.generatorBehind) reasons.push(`generator behind schedule: dispatch error p99 ${cell.dispatchErrorMs?.p99} ms`);
  const stray = cell.accounting.usersInDb - cell.accounting.responses2xx;
  // A crash leaves users whose reply never left the killed process: counted, expected.
  if (stray !== 0 && !(scenario.faults.crash && stray > 0)) {
    reasons.push(
      `${cell.accounting.usersInDb} users stored but ${cell.accounting.responses2xx} 2xx responses` +
        (stray > 0 ? ' (sign-ups whose reply timed out or failed on the way)' : ''),
    );
  }
  if (isVariant(cell.variant)) reasons.push(...promiseBreaches(cell, cell.variant));
  const bad = cell.faults?.badInput;
  if (bad && bad.answeredAsExpected !== bad.sent) {
    reasons.push(`${bad.sent - bad.answeredAsExpected} of ${bad.sent} bad requests were not answered with their 4xx`);
  }
  return { valid: reasons.length === 0, reasons };
}

/** What a variant of the registry promised about its mail, and did not keep. */
function promiseBreaches(cell: CellResult, variant: Parameters<typeof variantFacts>[0]): string[] {
  const facts = variantFacts(variant);
  const reasons: string[] = [];
  if (facts.promisesDelivery && cell.emails.lost > 0) reasons.push(`${cell.emails.lost} e-mails silently lost by a variant that promises delivery`);
  if (!facts.mayDuplicate && cell.emails.duplicated > 0) reasons.push(`${cell.emails.duplicated} duplicate e-mails from a variant that sends each once`);
  if (!facts.sendsMail && cell.emails.delivered > 0) reasons.push(`${cell.emails.delivered} e-mails from a variant that sends none`);
  return reasons;
}
