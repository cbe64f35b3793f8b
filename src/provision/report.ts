import { formatTable } from "../table.ts";
import type { ResourceInfo } from "./resources.ts";

export function formatResources(resources: ResourceInfo[]): string {
  return formatTable(
    ["kind", "name", "state", "arn / url"],
    resources.map((r) => [r.kind, r.name, r.state, [r.arn, r.url, r.detail].filter(Boolean).join("  ")]),
  );
}

export function summarizeBootstrap(resources: ResourceInfo[]): string {
  const count = (state: ResourceInfo["state"]) => resources.filter((r) => r.state === state).length;
  const [created, updated, existing, unavailable] = [
    count("created"),
    count("updated"),
    count("exists"),
    count("unavailable"),
  ];
  const skipped = unavailable > 0 ? ` (${unavailable} skipped: service not available here)` : "";
  if (created === 0 && updated === 0) return `Nothing to create: all ${existing} resources already exist${skipped}.`;
  return `Created ${created}, updated ${updated}, unchanged ${existing}${skipped}.`;
}
