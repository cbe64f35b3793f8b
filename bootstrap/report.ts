import { formatTable } from "../src/cli/table.ts";
import type { ResourceInfo } from "../src/resources.ts";

export function formatResources(resources: ResourceInfo[]): string {
  return formatTable(
    ["kind", "name", "state", "arn / url"],
    resources.map((r) => [r.kind, r.name, r.state, [r.arn, r.url, r.detail].filter(Boolean).join("  ")]),
  );
}

export function summarizeBootstrap(resources: ResourceInfo[]): string {
  const created = resources.filter((r) => r.state === "created").length;
  const updated = resources.filter((r) => r.state === "updated").length;
  if (created === 0 && updated === 0) return `Nothing to create: all ${resources.length} resources already exist.`;
  return `Created ${created}, updated ${updated}, unchanged ${resources.length - created - updated}.`;
}
