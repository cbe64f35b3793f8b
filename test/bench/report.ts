// A figure of the benchmark, or why it could not be measured: a measurement that did not
// run is printed as "not run (why)", never as 0 or as a ratio against a placeholder.
import type { PeerRound } from "./peer.ts";

/** A measured figure, or the reason there is none. */
export type Measure = { value: number } | { notRun: string };

export function measured(value: number): Measure {
  return Number.isFinite(value) ? { value } : { notRun: `no finite value (${value})` };
}

export function notRun(why: string): Measure {
  return { notRun: why };
}

export function isMeasured(m: Measure): m is { value: number } {
  return "value" in m;
}

/** a ÷ b; not run when either is, or when b is 0. */
export function ratio(a: Measure, b: Measure): Measure {
  if (!isMeasured(a)) return a;
  if (!isMeasured(b)) return b;
  if (b.value === 0) return notRun("divided by a zero measurement");
  return measured(a.value / b.value);
}

/** The median; not run when any of them is (a median of what did run would hide it), or when there are none. */
export function medianOf(ms: Measure[]): Measure {
  if (ms.length === 0) return notRun("no rounds");
  const missing = ms.find((m) => !isMeasured(m));
  if (missing) return missing;
  return measured(median(ms.map((m) => (m as { value: number }).value)));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** "12.34", or "not run (why)". */
export function show(m: Measure, digits = 2): string {
  return isMeasured(m) ? m.value.toFixed(digits) : `not run (${m.notRun})`;
}

export type LatencySummary = { p50: number; p95: number; max: number } | { notRun: string };

/**
 * p50 / p95 / max of latencies in ms (nearest-rank percentiles), or not run when there are
 * none: an empty list is a measurement that did not happen, never NaN / -Infinity.
 */
export function latencySummary(samplesMs: number[], whyNone: string): LatencySummary {
  if (samplesMs.length === 0) return { notRun: whyNone };
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
  return { p50: at(50), p95: at(95), max: Math.round(sorted[sorted.length - 1] ?? 0) };
}

export function showLatency(l: LatencySummary): string {
  return "notRun" in l ? `not run (${l.notRun})` : `${l.p50} / ${l.p95} / ${l.max}`;
}

/** The reasons of the measures that did not run, one per distinct reason. */
export function notRunReasons(ms: Measure[]): string[] {
  return [...new Set(ms.flatMap((m) => (isMeasured(m) ? [] : [m.notRun])))];
}

/** The rounds of `--peer` as printed: rates and ratio per round, medians, CPU per image. */
export function peerReport(
  ran: PeerRound[],
  asked: number,
): { rows: string[][]; cpu: string[][]; json: unknown; measures: Measure[] } {
  const rounds: PeerRound[] = [...ran];
  for (let round = ran.length + 1; round <= asked; round++) {
    const skipped = notRun(`round ${ran.length} failed`);
    const run = { imagesPerSecond: skipped, workerCpuPerImage: skipped, stackCpuPerImage: skipped };
    rounds.push({ round, project: run, original: run, raw: undefined, projectOverOriginal: skipped });
  }
  const med = (pick: (r: PeerRound) => Measure) => medianOf(rounds.map(pick));
  const ratioMedian = med((r) => r.projectOverOriginal);
  const everyRound = rounds.every((r) => isMeasured(r.projectOverOriginal) && r.projectOverOriginal.value > 1.1);
  const raw = med((r) => (r.raw ? measured(r.raw.cpuSecondsPerImage) : notRun("no raw sharp run")));
  const workerOverRaw = med((r) =>
    ratio(r.project.workerCpuPerImage, r.raw ? measured(r.raw.cpuSecondsPerImage) : notRun("no raw sharp run")),
  );
  const projectCpu = med((r) => r.project.workerCpuPerImage);
  const originalCpu = med((r) => r.original.workerCpuPerImage);
  const stackProject = med((r) => r.project.stackCpuPerImage);
  const stackOriginal = med((r) => r.original.stackCpuPerImage);
  const rows = [
    ...rounds.map((r) => [
      `round ${r.round}`,
      show(r.project.imagesPerSecond),
      show(r.original.imagesPerSecond),
      show(r.projectOverOriginal),
    ]),
    [
      "median",
      show(med((r) => r.project.imagesPerSecond)),
      show(med((r) => r.original.imagesPerSecond)),
      `${show(ratioMedian)} (target ≥ 1.20, every round > 1.10: ${everyRound ? "yes" : "no"})`,
    ],
  ];
  const cpu = [
    ["project's worker", show(projectCpu, 3), ""],
    ["original worker (all its processes)", show(originalCpu, 3), ""],
    ["stack + uploads, project's runs / original's runs", `${show(stackProject, 3)} / ${show(stackOriginal, 3)}`, ""],
    ["raw sharp, 128 px only, in-process", show(raw, 3), "reference"],
    ["project's worker ÷ raw sharp", show(workerOverRaw), "≤ 1.10"],
  ];
  const value = (m: Measure) => (isMeasured(m) ? m.value : null);
  const json = {
    rounds: rounds.map((r) => ({
      round: r.round,
      projectImagesPerSecond: value(r.project.imagesPerSecond),
      originalImagesPerSecond: value(r.original.imagesPerSecond),
      projectOverOriginal: value(r.projectOverOriginal),
      projectWorkerCpuPerImage: value(r.project.workerCpuPerImage),
      originalWorkerCpuPerImage: value(r.original.workerCpuPerImage),
      rawCpuPerImage: r.raw?.cpuSecondsPerImage ?? null,
    })),
    projectOverOriginal: value(ratioMedian),
    everyRoundOver1_1: everyRound,
    workerCpuOverRaw: value(workerOverRaw),
  };
  const measures = [
    ...rounds.flatMap((r) => [r.project.imagesPerSecond, r.original.imagesPerSecond]),
    ratioMedian,
    raw,
    workerOverRaw,
    projectCpu,
    originalCpu,
  ];
  return { rows, cpu, json, measures };
}
