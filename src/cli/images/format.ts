import { escapeTerminal, formatBytes } from "../../format.ts";
import type { DeleteResult, ImageUrls, ReprocessOutcome } from "../../store/manage.ts";
import type { ImageItem } from "../../store/metadata.ts";
import type { ReconcileAction, ReconcileReport } from "../../store/reconcile.ts";
import { formatTable } from "../../table.ts";

/** One line per image, the columns a person scans for; the imageId is what other commands take. */
/** With `taken`, a first column "taken" (the camera's clock, its offset when recorded). */
export function formatImageTable(items: ImageItem[], options: { taken?: boolean } = {}): string {
  return formatTable(
    [...(options.taken ? ["taken"] : []), "uploaded (UTC)", "status", "size", "dimensions", "imageId", "name"],
    items.map((item) => [
      ...(options.taken ? [(item.takenAt ?? "").replace("T", " ")] : []),
      formatDate(item.uploadDate),
      item.errorCode ? `${item.status} ${item.errorCode}` : item.status,
      item.bytes === undefined ? "" : formatBytes(item.bytes),
      item.width ? `${item.width}×${item.height}` : "",
      item.imageId,
      item.name,
    ]),
  );
}

// The order a person reads an item in; attributes not listed here follow, so nothing is hidden.
const FIELD_ORDER = [
  "imageId",
  "name",
  "bucket",
  "key",
  "status",
  "errorCode",
  "errorMessage",
  "format",
  "contentType",
  "width",
  "height",
  "bytes",
  "dominantColor",
  "uploadDate",
  "processedAt",
  "processingMs",
  "eTag",
  "sequencer",
  "listShard",
] as const;

/** The whole item as `field  value` lines, thumbnails and presigned URLs after it. */
export function formatImageDetail(item: ImageItem, urls: ImageUrls): string {
  const record = item as unknown as Record<string, unknown>;
  const fields = [
    ...FIELD_ORDER.filter((field) => record[field] !== undefined),
    ...Object.keys(record)
      .filter((field) => !(FIELD_ORDER as readonly string[]).includes(field) && field !== "thumbnails")
      .sort(),
  ];
  const width = Math.max(...fields.map((f) => f.length));
  const lines = fields.map(
    (field) => `${escapeTerminal(field.padEnd(width))}  ${escapeTerminal(formatValue(field, record[field]))}`,
  );

  const thumbnails = item.thumbnails ?? [];
  lines.push("", thumbnails.length === 0 ? "thumbnails: none" : "thumbnails:");
  if (thumbnails.length > 0) {
    lines.push(
      formatTable(
        ["size", "dimensions", "format", "bytes", "key"],
        thumbnails.map((t) => [t.size, `${t.width}×${t.height}`, t.format, formatBytes(t.bytes), t.key]),
      ),
    );
  }

  lines.push("", `Presigned URLs (valid for ${formatDuration(urls.expiresIn)}):`);
  lines.push(`original  ${escapeTerminal(urls.original)}`);
  for (const t of urls.thumbnails) lines.push(`${String(t.size).padEnd("original".length)}  ${escapeTerminal(t.url)}`);
  return lines.join("\n");
}

function formatValue(field: string, value: unknown): string {
  if (field === "bytes" && typeof value === "number") return `${value} (${formatBytes(value)})`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function formatDeleted(result: DeleteResult, name: string): string {
  const thumbs = result.thumbnails.length === 1 ? "1 thumbnail" : `${result.thumbnails.length} thumbnails`;
  return [
    `Deleted ${escapeTerminal(name)} (${escapeTerminal(result.imageId)}):`,
    `  original   s3://${escapeTerminal(`${result.original.bucket}/${result.original.key}`)}`,
    `  ${thumbs.padEnd(9)}  ${escapeTerminal(result.thumbnails.join(", ")) || "-"}`,
    "  item       removed from the table",
  ].join("\n");
}

export function formatReprocessed(outcomes: ReprocessOutcome[]): string {
  return formatTable(
    ["imageId", "key", "result"],
    outcomes.map((o) => [o.imageId, o.key, o.result === "queued" ? "queued" : `not queued: ${o.reason}`]),
  );
}

function formatDate(iso: string): string {
  return iso.replace("T", " ").slice(0, 19);
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const RECONCILE_LINES: Record<ReconcileAction["action"], [done: string, wouldBe: string, what: string]> = {
  queued: ["queued", "would queue", "object(s) without an item for their eTag: the worker processes them"],
  "removed-item": ["removed", "would remove", "item(s) whose original is gone"],
  "deleted-thumbnail": ["deleted", "would delete", "thumbnail object(s) no item names"],
  "removed-tombstone": ["removed", "would remove", "expired tombstone(s) of deleted images"],
  "left-recent-thumbnail": ["left", "would leave", "unnamed thumbnail(s) younger than the grace period"],
};

/** Counts (and with `verbose` every key) of what `images reconcile` did or would do. */
export function formatReconciled(report: ReconcileReport, where: string, verbose: boolean): string {
  const lines = [
    `Listed ${report.listed.objects} upload(s), ${report.listed.items} item(s) (a Scan) and ` +
      `${report.listed.thumbnails} thumbnail object(s) on ${where}.`,
  ];
  const rows = (Object.keys(RECONCILE_LINES) as ReconcileAction["action"][]).map((action) => {
    const [done, wouldBe, what] = RECONCILE_LINES[action];
    return [report.dryRun ? wouldBe : done, report.counts[action], what];
  });
  lines.push(formatTable(["action", "count", "what"], rows));
  if (verbose && report.actions.length > 0) {
    lines.push(
      "",
      formatTable(
        ["action", "key", "why"],
        report.actions.map((a) => [a.action, a.key, a.reason]),
      ),
    );
  }
  const changes = report.actions.filter((a) => a.action !== "left-recent-thumbnail").length;
  lines.push(
    report.dryRun
      ? "Dry run: nothing changed."
      : changes === 0
        ? "Nothing to repair: the table and the thumbnails match the bucket."
        : "Done. Queued uploads are processed by the worker (npm start or npm run worker).",
  );
  return lines.join("\n");
}
