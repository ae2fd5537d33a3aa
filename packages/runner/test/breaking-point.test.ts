/**
 * Breaking points: the search's choices (a pure function, driven here by a server whose limits
 * are known), a step's judgement, the model's closed forms; and one real search end to end
 * through the CLI, where inline behind 2 connections at 300 ms must break near c/L.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { NO_AIM, nextRate, splitAt, type SearchSettings } from '../src/search/ladder.ts';
import { judgeStep, mailShareOf, slope, type StepPlan } from '../src/search/step.ts';
import { inlineHttpLimit } from '../src/judge/model.ts';
import { applyOverrides, parseBenchArgs } from '../src/cli/args.ts';
import { loadScenario } from '../src/config/scenario.ts';
import type { StepResult, CapacityResult } from '../src/shapes/results.ts';
import { bracketOf, type StepOutcome, withinResolution } from '../src/judge/brackets.ts';
import { scaleAroundLimit } from '../src/run/plan.ts';
import { GUIDE_HTTP, PROBE_SEC, type RunInfo } from '../src/shapes/run.ts';
import { bench } from './helpers.ts';
import { runBreakingPoints } from '../src/search/search.ts';
import {
  buildBreakingPoints,
  describeBreakingPoint,
  limitRow,
} from '../src/summary/breaking-points.ts';
import type { CellContext } from '../src/trial/context.ts';
import { parseStages } from '../src/config/flag-values.ts';

const SETTINGS: SearchSettings = {
  startRate: 8,
  growth: 1.5,
  maxRate: 3000,
  bisections: 4,
  resolution: 0.1,
};

/** Runs a whole search against a server whose limits are given; returns the steps it ran. */
function search(
  http: number,
  mail: number | null,
  generatorAt = Number.POSITIVE_INFINITY,
  settings = SETTINGS,
): StepOutcome[] {
  const steps: StepOutcome[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const next = nextRate(steps, settings, mail !== null);
    if (!next) return steps;
    const r = next.ratePerSec;
    steps.push({
      ratePerSec: r,
      phase: next.phase,
      httpOk: r <= http,
      mailOk: mail === null ? null : r <= mail,
      generatorLimited: r >= generatorAt,
    });
  }
  throw new Error('the search did not end');
}

describe('breaking-point search', () => {
  it('climbs the ladder until the SLO breaks, then narrows both limits with the steps it has', () => {
    const steps = search(45, 10.4);
    expect(steps.slice(0, 6).map((s) => s.ratePerSec)).toEqual([8, 12, 18, 27, 40.5, 60.75]);
    expect(steps.slice(0, 6).every((s) => s.phase === 'ladder')).toBe(true);
    expect(steps.filter((s) => s.phase === 'bisect').length).toBe(4);
    const h = bracketOf(steps, 'http');
    const m = bracketOf(steps, 'mail');
    expect(h.lo).toBeLessThanOrEqual(45);
    expect(h.hi).toBeGreaterThan(45);
    expect(m.lo).toBeLessThanOrEqual(10.4);
    expect(m.hi).toBeGreaterThan(10.4);
    // Four bisections shared between two brackets: each ends narrower than the ladder's 1.5 step.
    expect((h.hi! - h.lo!) / h.lo!).toBeLessThan(0.5);
    expect((m.hi! - m.lo!) / m.lo!).toBeLessThan(0.5);
  });

  it('steps below the first rung when it already fails, and never repeats a rate', () => {
    const steps = search(45, 3);
    const m = bracketOf(steps, 'mail');
    expect(m.lo).not.toBeNull();
    expect(m.lo!).toBeLessThanOrEqual(3);
    const rates = steps.map((s) => s.ratePerSec.toFixed(2));
    expect(new Set(rates).size).toBe(rates.length);
  });

  it('stops at the generator and tries nothing at or above where it fell behind', () => {
    const steps = search(1000, null, 30);
    const limited = steps.filter((s) => s.generatorLimited);
    expect(limited.length).toBe(1);
    expect(steps.every((s) => s.ratePerSec <= limited[0]!.ratePerSec)).toBe(true);
    expect(bracketOf(steps, 'http').hi).toBeNull(); // no failure of the server's: no HTTP limit claimed
  });

  it('ends at maxRate with a lower bound, for a variant without e-mail', () => {
    const steps = search(1e9, null, Number.POSITIVE_INFINITY, { ...SETTINGS, maxRate: 100 });
    expect(steps[steps.length - 1]!.ratePerSec).toBe(100);
    expect(steps.every((s) => s.mailOk === null)).toBe(true);
    expect(bracketOf(steps, 'http')).toEqual({ lo: 100, hi: null });
  });
});

function stepWith(
  p: Partial<StepResult> & { dispatchP99: number; sendP99: number; intendedP99: number },
): StepResult {
  const lat = (p99: number) => ({
    count: 100,
    mean: p99 / 2,
    p50: p99 / 2,
    p75: p99,
    p90: p99,
    p99,
    p999: p99,
    max: p99,
    min: 1,
  });
  return {
    status: 'ok',
    errors: 0,
    emails: null,
    slo: { p99Ms: 2000, mailShare: 0.95 },
    latencyMs: { fromIntended: lat(p.intendedP99), fromSend: lat(p.sendP99) },
    dispatchErrorMs: lat(p.dispatchP99),
    ...p,
  } as StepResult;
}

describe('a step judged against the SLO', () => {
  const limits = { behindThresholdMs: 10, stallThresholdMs: 300 };
  it('a pass with a generator late by more than 5 % of the SLO proves nothing', () => {
    const s = stepWith({ dispatchP99: 150, sendP99: 300, intendedP99: 450 });
    judgeStep(s, limits);
    expect(s.generatorLimited).toBe(true);
    expect(s.httpOk).toBe(false);
  });
  it("a failure the server shows without the generator is the server's, late generator or not", () => {
    const s = stepWith({ dispatchP99: 150, sendP99: 2500, intendedP99: 2650 });
    judgeStep(s, limits);
    expect(s.generatorLimited).toBe(false);
    expect(s.httpOk).toBe(false);
  });
  it('a few ms of lateness against a 2 s SLO does not stop the ladder; any error fails the step', () => {
    const s = stepWith({ dispatchP99: 12, sendP99: 600, intendedP99: 610 });
    judgeStep(s, limits);
    expect(s.generatorLimited).toBe(false);
    expect(s.httpOk).toBe(true);
    const e = stepWith({ dispatchP99: 1, sendP99: 100, intendedP99: 100, errors: 1 });
    judgeStep(e, limits);
    expect(e.httpOk).toBe(false);
  });
  it('a step where every request failed owes no e-mail and gets no mail verdict, not a pass', () => {
    expect(mailShareOf(0, 0)).toBeNull();
    expect(mailShareOf(40, 38)).toBe(0.95);
    const emails = {
      owed: 0,
      deliveredByDeadline: 0,
      share: mailShareOf(0, 0),
      deadlineSec: 20,
      deliveredRatePerSec: 0,
      backlogAtDeadline: 0,
      backlogGrowthPerSec: 0,
      meanBacklog: 0,
      lagMs: null,
    };
    const s = stepWith({
      dispatchP99: 1,
      sendP99: 1,
      intendedP99: 1,
      errors: 100,
      latencyMs: null,
      emails,
    });
    judgeStep(s, limits);
    expect(s.httpOk).toBe(false);
    expect(s.mailOk).toBeNull();
  });
});

/**
 * A step as a scripted server answers it: `ok` whether it carried the rate, `behind` whether the
 * generator fell behind, `cpuMs` its CPU per sign-up (null: unknown to the model).
 */
function scriptedStep(
  stepCtx: CellContext,
  plan: StepPlan,
  how: { ok: boolean; behind?: boolean; cpuMs?: number | null; mailOk?: boolean | null },
): StepResult {
  const behind = how.behind ?? false;
  const r = stepWith({
    dispatchP99: behind ? 500 : 1,
    sendP99: 50,
    intendedP99: how.ok ? 100 : 5000,
  });
  return {
    ...r,
    label: plan.spec.label,
    variant: plan.spec.variant,
    factor: null,
    step: plan.step,
    attempt: plan.attempt ?? 1,
    repeat: plan.spec.repeat,
    phase: plan.phase,
    ratePerSec: plan.spec.requests / stepCtx.scenario.durationSec,
    requests: plan.spec.requests,
    durationSec: stepCtx.scenario.durationSec,
    httpOk: how.ok && !behind,
    mailOk: how.mailOk ?? null,
    generatorBehind: behind,
    generatorLimited: behind,
    cpuMsPerRequest: how.cpuMs ?? null,
    samples: null,
    series: [],
  };
}

describe('a disturbed step is measured again', () => {
  const scenario = {
    ...loadScenario('breaking-point'),
    variants: ['no-email' as const],
    aaControl: null,
    sweep: null,
  };
  scenario.breakingPoint = { ...scenario.breakingPoint, startRate: 8, growth: 2, bisections: 2 };
  /** A server that carries 20/s, behind a generator that falls behind on the calls `busy` names. */
  const searchWith = async (busy: (call: number, rate: number) => boolean) => {
    const steps: Array<{ file: string; result: StepResult }> = [];
    let call = 0;
    const ctx = { scenario, signal: new AbortController().signal } as unknown as CellContext;
    await runBreakingPoints(ctx, {
      onStart: () => {},
      onStep: (file, result) => steps.push({ file, result }),
      run: async (stepCtx, plan) => {
        const rate = plan.spec.requests / stepCtx.scenario.durationSec;
        return scriptedStep(stepCtx, plan, { ok: rate <= 20, behind: busy(call++, rate) });
      },
    });
    return { steps, entry: buildBreakingPoints(scenario, steps, 2)[0]! };
  };

  it('retries before the step can end the ladder: a busy moment at the start costs an attempt, not the limit', async () => {
    const { steps, entry } = await searchWith((call) => call === 0);
    expect(steps.slice(0, 2).map((s) => s.file)).toEqual([
      'no-email/step-01.json',
      'no-email/step-01-retry1.json',
    ]);
    expect(steps[1]?.result.attempt).toBe(2);
    expect(entry).toMatchObject({ limitedBy: 'slo', retries: 1, generatorCeilingPerSec: null });
    expect(entry.httpBracket.lo).toBeLessThanOrEqual(20);
    expect(entry.httpBracket.hi).toBeGreaterThan(20);
    expect(entry.steps[1]).toMatchObject({ attempt: 2, generatorLimited: false });
    // Two bisections leave the bracket wider than the resolution: a bracket, not a limit.
    const { lo, hi } = entry.httpBracket as { lo: number; hi: number };
    expect((hi - lo) / lo).toBeGreaterThan(scenario.breakingPoint.resolution);
    expect(entry.httpNarrowed).toBe(false);
    expect(limitRow(entry)[1]).toBe('not bracketed');
    expect(describeBreakingPoint(entry)).toContain('not bracketed');
  });

  it('brackets and ranges read as text: open ends, equal ends, the unit before the remark', async () => {
    const { entry } = await searchWith(() => false);
    const none = { ...entry, httpMaxRatePerSec: null, httpBracket: { lo: null, hi: 0.9 } };
    expect(limitRow(none)[2]).toBe('< 0.9'); // not '–' glued to '–0.9'
    expect(limitRow({ ...entry, httpBracket: { lo: 60, hi: null } })[2]).toBe('≥ 60');
    const same = {
      ...entry,
      httpMaxRatePerSec: 9.7,
      httpNarrowed: true,
      httpRange: [9.7, 9.7] as [number, number],
    };
    expect(limitRow(same)[1]).toBe('9.7 (each)');
    const twice = { ...same, searches: [entry, entry] };
    expect(describeBreakingPoint(twice)).toContain(
      'up to 9.7/s (the median of 2 searches; each 9.7/s)',
    );
    const mail = {
      ...entry,
      mailLimitedBy: 'share' as const,
      mailMaxRatePerSec: 5.8,
      mailNarrowed: false,
      mailBracket: { lo: 5.8, hi: 8 },
    };
    expect(describeBreakingPoint(mail)).toContain(
      'e-mail keeps up to somewhere in 5.8–8/s (not bracketed)',
    );
  });

  it('a step the generator never carries, in three attempts, says the machine was too busy', async () => {
    const { steps, entry } = await searchWith((_call, rate) => rate >= 16);
    expect(steps.filter((s) => s.result.ratePerSec === 16).map((s) => s.result.attempt)).toEqual([
      1, 2, 3,
    ]);
    expect(entry).toMatchObject({ limitedBy: 'generator', generatorCeilingPerSec: 16, retries: 2 });
    expect(describeBreakingPoint(entry)).toContain('the machine was too busy to measure further');
  });
});

describe('repeated searches', () => {
  it('runs each label K times, interleaved; each search is kept, each limit the median of K with its range', async () => {
    const base = loadScenario('breaking-point');
    const scenario = {
      ...base,
      variants: ['no-email' as const, 'inline' as const],
      aaControl: null,
      sweep: null,
      repeats: 3,
    };
    scenario.breakingPoint = {
      ...scenario.breakingPoint,
      startRate: 8,
      growth: 2,
      bisections: 6,
      resolution: 0.1,
    };
    // The server carries a little more or less from one search to the next, as a machine does.
    const limits = [20, 26, 23];
    const steps: Array<{ file: string; result: StepResult }> = [];
    const order: string[] = [];
    const ctx = { scenario, signal: new AbortController().signal } as unknown as CellContext;
    await runBreakingPoints(ctx, {
      onStart: () => {},
      onStep: (file, result) => steps.push({ file, result }),
      run: async (stepCtx, plan) => {
        if (plan.step === 1) order.push(`${plan.spec.label}${plan.spec.repeat}`);
        const rate = plan.spec.requests / stepCtx.scenario.durationSec;
        return scriptedStep(stepCtx, plan, {
          ok: rate <= (limits[plan.spec.repeat - 1] as number),
        });
      },
    });
    expect(order).toEqual(['no-email1', 'inline1', 'no-email2', 'inline2', 'no-email3', 'inline3']);
    expect(steps.some((s) => s.file.startsWith('no-email/r2/step-01'))).toBe(true);
    const [entry] = buildBreakingPoints(
      scenario,
      steps.filter((s) => s.result.label === 'no-email'),
      2,
    );
    expect(entry?.searches).toHaveLength(3);
    const found = entry!.searches!.map((s) => s.httpMaxRatePerSec as number);
    found.forEach((f, k) => {
      expect(f).toBeLessThanOrEqual(limits[k] as number);
      expect(f).toBeGreaterThan((limits[k] as number) / 1.1 - 0.01);
    });
    expect(entry!.httpMaxRatePerSec).toBe([...found].sort((a, b) => a - b)[1]);
    expect(entry!.httpRange).toEqual([Math.min(...found), Math.max(...found)]);
    expect(describeBreakingPoint(entry!)).toContain('the median of 3 searches');
    expect(limitRow(entry!)[1]).toMatch(/^[\d.]+ \([\d.]+–[\d.]+\)$/);
  });
});

describe('a search guided by its model', () => {
  it('jumps to just below the predicted limit after its first step, and brackets it in fewer rungs', async () => {
    const scenario = {
      ...loadScenario('breaking-point'),
      variants: ['no-email' as const],
      aaControl: null,
      sweep: null,
      repeats: 1,
    };
    scenario.breakingPoint = {
      ...scenario.breakingPoint,
      startRate: 8,
      growth: 1.5,
      bisections: 3,
      resolution: 0.1,
    };
    // A server that carries 40/s because each sign-up costs cores × 1000 / 40 ms of CPU.
    const cpuMs = (os.cpus().length * 1000) / 40;
    const rungs = async (guided: boolean) => {
      const steps: StepResult[] = [];
      const ctx = { scenario, signal: new AbortController().signal } as unknown as CellContext;
      await runBreakingPoints(ctx, {
        onStart: () => {},
        onStep: (_file, result) => steps.push(result),
        run: async (stepCtx, plan) => {
          const rate = plan.spec.requests / stepCtx.scenario.durationSec;
          // Unguided, the model has nothing to go by.
          return scriptedStep(stepCtx, plan, { ok: rate <= 40, cpuMs: guided ? cpuMs : null });
        },
      });
      const entry = buildBreakingPoints(
        scenario,
        steps.map((result) => ({ file: '', result })),
        os.cpus().length,
      )[0]!;
      return {
        ladder: steps.filter((s) => s.phase === 'ladder').map((s) => s.ratePerSec),
        windows: steps.map((s) => s.durationSec),
        entry,
      };
    };
    const guided = await rungs(true);
    const unguided = await rungs(false);
    expect(guided.ladder[1]).toBeCloseTo(0.9 * 40, 0); // the jump: 90 % of the prediction
    expect(guided.ladder.length).toBeLessThan(unguided.ladder.length);
    expect(guided.entry.predicted.httpRatePerSec).toBeCloseTo(40, 1);
    expect(guided.entry.httpBracket.lo).toBeLessThanOrEqual(40);
    expect(guided.entry.httpBracket.hi).toBeGreaterThan(40);
    // The rung after the jump aims just below the prediction; passing there, the next rung is one
    // resolution higher, and fails: bracketed within 10 % by the ladder alone.
    expect(guided.ladder[2]).toBeCloseTo(0.95 * 40, 0);
    expect(guided.ladder[3]).toBeCloseTo(0.95 * 40 * 1.1, 0);
    expect(guided.entry.httpNarrowed).toBe(true);
    // The first step only probed the CPU per sign-up: a short window.
    expect(guided.windows[0]).toBe(PROBE_SEC);
    expect(guided.windows.slice(1).every((w) => w === scenario.breakingPoint.stepSec)).toBe(true);
  });

  it('is guided by c/L from the start, then, once e-mail fell behind, by the HTTP limit', async () => {
    // background at 500 ms: e-mail leaves at c/L = 5/0.5 s = 10/s; the API carries 50/s.
    const scenario = {
      ...loadScenario('breaking-point'),
      variants: ['background' as const],
      aaControl: null,
      sweep: null,
      repeats: 1,
    };
    scenario.smtp = { ...scenario.smtp, latency: { kind: 'fixed', ms: 500 } };
    scenario.breakingPoint = { ...scenario.breakingPoint, startRate: 8, growth: 1.5 };
    const cpuMs = (os.cpus().length * 1000) / 50;
    const rates: number[] = [];
    const ctx = { scenario, signal: new AbortController().signal } as unknown as CellContext;
    await runBreakingPoints(ctx, {
      onStart: () => {},
      onStep: (_file, result) => rates.push(result.ratePerSec),
      run: async (stepCtx, plan) => {
        const rate = plan.spec.requests / stepCtx.scenario.durationSec;
        return scriptedStep(stepCtx, plan, { ok: rate <= 50, cpuMs, mailOk: rate <= 10 });
      },
    });
    // Just below c/L (known before any step) and just above it, where e-mail fails: bracketed
    // within 10 % at once; then 90 % and 95 % of the HTTP limit, and one resolution above: no
    // bisection. No probe: c/L guided the first step. (A rate is a whole number of requests over
    // the window.)
    expect(rates.map((r) => Number(r.toFixed(1)))).toEqual([9.7, 10.6, 45, 47.5, 52.3]);
  });
});

describe('the guided ladder past its guide', () => {
  it("steps one resolution past a guide its rungs already passed (inline at 500 ms: c/L's rungs lie past its HTTP guide)", () => {
    const settings = { startRate: 8, growth: 1.5, maxRate: 3000, bisections: 3, resolution: 0.1 };
    const step = (ratePerSec: number, httpOk: boolean, mailOk: boolean | null) =>
      ({ ratePerSec, phase: 'ladder', httpOk, mailOk, generatorLimited: false }) as StepOutcome;
    const guide = { ratePerSec: 10.4, ...GUIDE_HTTP }; // the HTTP limit c/L stretched predicts
    const next = nextRate([step(9.7, true, true), step(10.6, true, false)], settings, true, guide);
    expect(next?.ratePerSec).toBeCloseTo(11.66, 2); // not 10.6 × 1.5
    // A model that undershot: rungs well past its guide passed, so the ladder climbs again.
    const far = nextRate([step(9.7, true, true), step(12.5, true, true)], settings, true, guide);
    expect(far?.ratePerSec).toBeCloseTo(18.75, 2);
  });
});

describe('bisections aimed by the model', () => {
  const settings = { startRate: 8, growth: 1.5, maxRate: 3000, bisections: 3, resolution: 0.1 };
  const step = (ratePerSec: number, httpOk: boolean, mailOk: boolean | null) =>
    ({ ratePerSec, phase: 'ladder', httpOk, mailOk, generatorLimited: false }) as StepOutcome;
  // inline at 0 ms, as a reference search ran it: the guided rung at 48/s failed, 36.8/s passed.
  const ladder = [step(8, true, true), step(36.8, true, true), step(48, false, false)];

  it('probe one resolution under a failed rung the model put the limit near, not the middle', () => {
    const aimed = nextRate(ladder, settings, true, null, { http: 50.5, mail: 50.5 });
    expect(aimed).toEqual({ ratePerSec: 48 / 1.1, phase: 'bisect' });
    const unaimed = nextRate(ladder, settings, true, null);
    expect(unaimed).toEqual({ ratePerSec: (36.8 + 48) / 2, phase: 'bisect' });
  });

  it('close the bracket one step can close before halving one left open below', () => {
    // agenda at 0 ms: its e-mail fell behind at every rung (open below 8/s), its replies broke
    // between 45.4 and 54.5/s (20 %: the middle closes it).
    const agenda = [step(8, true, false), step(45.4, true, false), step(54.5, false, false)];
    const next = nextRate(agenda, settings, true, null, { http: 48, mail: 48 });
    expect(next).toEqual({ ratePerSec: (45.4 + 54.5) / 2, phase: 'bisect' });
    // Then the e-mail's: below the lowest rung by the ladder's factor twice.
    const after = [...agenda, { ...step(49.95, true, false), phase: 'bisect' as const }];
    expect(nextRate(after, settings, true, null)?.ratePerSec).toBeCloseTo(8 / 2.25, 9);
  });

  it('aim at the end the prediction is nearer, and at the middle where it says nothing', () => {
    expect(splitAt(36.8, 48, 38, 0.1)).toBeCloseTo(36.8 * 1.1, 9); // nearer the bottom
    expect(splitAt(36.8, 48, 30, 0.1)).toBe((36.8 + 48) / 2); // below: the model undershot
    expect(splitAt(3.55, 8, 56, 0.1)).toBe((3.55 + 8) / 2); // far above: another mechanism
    expect(splitAt(42, 48, 50, 0.1)).toBe(45); // one step halves it to the resolution anyway
  });

  it('ends with both limits within the resolution, in fewer steps when the model is near', () => {
    // A server whose limit is 44/s, a model that says 50/s (it leaves the harness out).
    const run = (aim: typeof NO_AIM) => {
      const steps = [...ladder];
      for (let next = nextRate(steps, settings, true, null, aim); next; ) {
        const r = next.ratePerSec;
        steps.push({ ...step(r, r <= 44, r <= 44), phase: next.phase });
        next = nextRate(steps, settings, true, null, aim);
      }
      return steps;
    };
    const aimed = run({ http: 50, mail: 50 });
    const plain = run(NO_AIM);
    for (const steps of [aimed, plain]) {
      const b = bracketOf(steps, 'http');
      expect(b.lo!).toBeLessThanOrEqual(44);
      expect(b.hi!).toBeGreaterThan(44);
      expect(withinResolution(b, 0.1)).toBe(true);
    }
    expect(aimed.length).toBe(plain.length - 1);
  });
});

describe('the model', () => {
  it("inline's HTTP limit stretches c/L by the SLO's slack over the window", () => {
    expect(inlineHttpLimit(10, 600, 2000, 20)).toBeCloseTo(10.7, 6);
    expect(inlineHttpLimit(10, 2500, 2000, 20)).toBe(10);
  });
  it('slope() is least squares', () => {
    expect(
      slope([
        { t: 1, y: 3 },
        { t: 2, y: 5 },
        { t: 3, y: 7 },
      ]),
    ).toBeCloseTo(2, 9);
    expect(
      slope([
        { t: 1, y: 3 },
        { t: 2, y: 5 },
      ]),
    ).toBeNull();
  });
});

describe('flags', () => {
  it('--stages, factor sweeps and breaking-point settings parse; mixing what cannot mix exits as usage', () => {
    expect(parseStages('10/s:20s,10-40/s:1m')).toEqual([
      { durationSec: 20, rate: 10 },
      { durationSec: 60, from: 10, to: 40 },
    ]);
    expect(() => parseStages('fast:10s')).toThrow(/RATE\/s:DURATION/);
    const a = parseBenchArgs([
      '--smtp-connections',
      '5,10,20',
      '--hash-cost',
      '12',
      '--slo-p99',
      '1.5s',
      '--step',
      '25s',
    ]);
    expect(a.overrides).toMatchObject({
      smtpConnections: [5, 10, 20],
      hashCost: 12,
      sloP99Ms: 1500,
      stepSec: 25,
    });
    expect(() => parseBenchArgs(['--smtp-connections', '5,10', '--hash-cost', '0,14'])).toThrow(
      /one factor at a time/,
    );
    expect(() => parseBenchArgs(['--stages', '5/s:10s', '--requests', '50'])).toThrow(
      /--stages replaces/,
    );
  });
});

describe('--around-limit', () => {
  it("puts the matrix at the original's ratios to its ~13/s, of the slowest variant's capacity", () => {
    const scenario = loadScenario('default');
    const probe = (
      variant: CapacityResult['variant'],
      requestsPerSec: number,
      status: CapacityResult['status'] = 'ok',
    ) => ({ variant, requestsPerSec, status }) as CapacityResult;
    const run = { scenario } as RunInfo;
    const scaled = scaleAroundLimit(
      scenario,
      [probe('no-email', 40), probe('inline', 10), probe('outbox', 2, 'failed')],
      run,
    );
    // 750/60 = 12.5/s is 0.96 of 13/s; at 10/s over 60 s that is 577 requests.
    expect(scaled.requests).toEqual([577, 615, 654, 769]);
    expect(run.aroundLimit).toMatchObject({
      limitPerSec: 10,
      limitedBy: 'inline',
      originalLimitPerSec: 13,
    });
    expect(() => scaleAroundLimit(scenario, [probe('inline', 0, 'failed')], run)).toThrow(
      /no capacity probe succeeded/,
    );
  });

  it("--variants without the scenario's A/A variant drops the twin instead of failing", () => {
    const s = applyOverrides(
      loadScenario('default'),
      parseBenchArgs(['--variants', 'no-email,inline']).overrides,
    );
    expect(s.aaControl).toBeNull();
    const kept = applyOverrides(
      loadScenario('default'),
      parseBenchArgs(['--variants', 'inline', '--aa-control', 'inline']).overrides,
    );
    expect(kept.aaControl).toBe('inline');
  });
});

const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL('../schema/results.schema.json', import.meta.url)), 'utf8'),
);

describe('pnpm bench --scenario breaking-point, end to end', () => {
  it('finds where inline breaks behind 2 connections at 300 ms, writes the steps, the model and the charts', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'mb-bp-'));
    const scenario = path.join(out, 'bp.json');
    const base = JSON.parse(
      readFileSync(
        fileURLToPath(new URL('../../../scenarios/breaking-point.json', import.meta.url)),
        'utf8',
      ),
    );
    delete base.$schema;
    base.variants = ['inline'];
    base.smtp = { latency: '300ms' };
    base.transport = { ...base.transport, maxConnections: 2 };
    base.hashCost = 0;
    base.warmup = { requests: 5, durationSec: 1 };
    // Short steps for a test (a real search uses 20 s or more): c/L = 6.7/s. A resolution of 25 %:
    // the rungs one resolution past the guide are fewer (at 10 % this search took 45 s, not 37).
    base.breakingPoint = {
      ...base.breakingPoint,
      stepSec: 4,
      startRate: 4,
      growth: 2,
      bisections: 1,
      resolution: 0.25,
    };
    writeFileSync(scenario, JSON.stringify(base));
    const r = await bench(['--scenario', scenario, '--out', path.join(out, 'results'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    const [bp] = summary.breakingPoints;
    expect(bp.label).toBe('inline');
    expect(bp.predicted.mailRatePerSec).toBeCloseTo(6.67, 1);
    expect(bp.limitedBy).toBe('slo');
    // The model for a 4 s window puts the limit near 6.7 · (1 + 1.7/4) ≈ 9.5/s: between the rungs 8
    // and 16.
    expect(bp.httpBracket.hi).toBeLessThanOrEqual(16);
    expect(bp.httpBracket.hi).toBeGreaterThan(bp.predicted.mailRatePerSec);
    expect(bp.steps.length).toBeGreaterThanOrEqual(3);
    const runDir = path.join(out, 'results', readdirSync(path.join(out, 'results'))[0] as string);
    const ajv = new Ajv({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    const validate = ajv.compile(SCHEMA);
    const run = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(run.steps.length).toBe(bp.steps.length);
    for (const file of ['run.json', 'summary.json', ...run.steps]) {
      const ok = validate(JSON.parse(readFileSync(path.join(runDir, file), 'utf8')));
      expect(ok, `${file}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    }
    const md = readFileSync(path.join(runDir, 'summary.md'), 'utf8');
    expect(md).toContain('## Breaking points');
    expect(md.indexOf('inline: replies')).toBeLessThan(md.indexOf('## What ran'));
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(html).toContain('id="breaking-point-latency"');
    expect(html).toContain('id="breaking-point-mail"');
    // No empty section: the steps are in the page, validity speaks of steps, and the cells'
    // tables (a breaking-point run has no cells) are left out.
    expect(html).toContain('<h3>inline: its steps</h3>');
    expect(html).toMatch(/breaking-point steps (is|are) valid|Of \d+ breaking-point steps/);
    expect(html).not.toContain('id="summary"');
    expect(html).not.toContain('id="reliability"');
    expect(html).not.toContain('Every cell is valid');
    expect(html).toContain('<meta name="viewport"');
    expect(md).toMatch(/4 s breaking-point steps/);
  }, 300_000);
});
