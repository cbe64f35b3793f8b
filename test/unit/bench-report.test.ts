import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { PeerRound, PipelineRun } from "../bench/peer.ts";
import * as report from "../bench/report.ts";
import { measured, medianOf, notRun, notRunReasons, peerReport, ratio, show } from "../bench/report.ts";

const run = (rate: number, cpu = 0.07): PipelineRun => ({
  imagesPerSecond: measured(rate),
  workerCpuPerImage: measured(cpu),
  stackCpuPerImage: measured(0.03),
});
const round = (n: number, project: PipelineRun, original: PipelineRun): PeerRound => ({
  round: n,
  project,
  original,
  raw: { imagesPerSecond: 30, cpuSecondsPerImage: 0.064 },
  projectOverOriginal: ratio(project.imagesPerSecond, original.imagesPerSecond),
});

describe("the benchmark's report: a measurement that did not run is never a number", () => {
  it("prints a missing measurement as not run, with the reason", () => {
    expect(show(measured(17.154))).toBe("17.15");
    expect(show(notRun("pillow_thumb.py not found"))).toBe("not run (pillow_thumb.py not found)");
  });

  it("gives no ratio against a measurement that did not run, and no median over one", () => {
    const missing = notRun("pillow_thumb.py not found");
    expect(show(ratio(measured(17.15), missing))).toBe("not run (pillow_thumb.py not found)");
    expect(show(ratio(missing, measured(2)))).toBe("not run (pillow_thumb.py not found)");
    expect(show(ratio(measured(1), measured(0)))).toMatch(/^not run/);
    expect(show(medianOf([measured(1), missing, measured(3)]))).toMatch(/^not run/);
    expect(show(medianOf([]))).toMatch(/^not run/);
    expect(show(measured(Number.NaN))).toMatch(/^not run/);
  });

  it("latencies: nearest-rank percentiles, and not run (never NaN / -Infinity) when there are none", () => {
    expect(report.latencySummary([120, 80, 300, 100], "x")).toEqual({ p50: 100, p95: 300, max: 300 });
    expect(report.showLatency(report.latencySummary([120.4], "x"))).toBe("120 / 120 / 120");
    expect(report.showLatency(report.latencySummary([], "--latency 0"))).toBe("not run (--latency 0)");
  });

  it("--peer: rates per round, the median ratio and worker CPU ÷ raw", () => {
    const report = peerReport(
      [round(1, run(24, 0.07), run(20)), round(2, run(22, 0.068), run(20)), round(3, run(26, 0.072), run(20))],
      3,
    );
    expect(report.rows.map((r) => r[3])).toEqual([
      "1.20",
      "1.10",
      "1.30",
      "1.20 (target ≥ 1.20, every round > 1.10: no)",
    ]);
    expect(report.cpu.find((r) => r[0] === "project's worker ÷ raw sharp")?.[1]).toBe("1.09");
    expect(notRunReasons(report.measures)).toEqual([]);
  });

  it("--peer: a round whose worker died, and the rounds never run, are not run; so is the median", () => {
    const died = notRun("seed_worker.py exited (1): KeyError");
    const report = peerReport(
      [
        round(1, run(24), run(20)),
        round(2, run(22), { imagesPerSecond: died, workerCpuPerImage: died, stackCpuPerImage: died }),
      ],
      3,
    );
    expect(report.rows[1]).toEqual([
      "round 2",
      "22.00",
      "not run (seed_worker.py exited (1): KeyError)",
      "not run (seed_worker.py exited (1): KeyError)",
    ]);
    expect(report.rows[2]?.[3]).toBe("not run (round 2 failed)");
    expect(report.rows[3]?.[3]).toMatch(/^not run \(seed_worker\.py exited/);
    expect(report.rows.flat().join(" ")).not.toMatch(/(^|\s)0\.00|NaN|Infinity/);
    expect(notRunReasons(report.measures).length).toBeGreaterThan(0);
  });
});

describe("npm run bench, asked for a measurement that cannot run", () => {
  const bench = fileURLToPath(new URL("../bench/bench.ts", import.meta.url));
  for (const [option, scriptOption] of [
    ["--peer", "--peer-script"],
    ["--pillow", "--pillow-script"],
  ] as const) {
    it(`${option} with its script missing: says not run and why, and exits 1 before measuring`, () => {
      const result = spawnSync(
        process.execPath,
        ["--import", "tsx", bench, "img", option, scriptOption, "/nonexistent/script.py"],
        {
          encoding: "utf8",
          // It loads sharp and the AWS SDK first: seconds on an idle machine, far more on a busy one.
          timeout: 170_000,
        },
      );
      expect(result.stderr).toContain("not run (/nonexistent/script.py not found)");
      expect(result.stdout).not.toMatch(/img\/s/);
      expect(result.status).toBe(1);
    }, 180_000);
  }
});
