import { escapeTerminal } from "./format.ts";

/**
 * A plain text table: columns padded to their widest cell, numbers right-aligned. Cells are data
 * (keys, names, reasons): each is escaped for the terminal.
 */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))].map((row) => row.map(escapeTerminal));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => [...(row[i] ?? "")].length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number"));
  const line = (row: string[]) =>
    row
      .map((cell, i) => {
        const pad = " ".repeat((widths[i] ?? 0) - [...cell].length);
        return numeric[i] ? pad + cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  const head = cells[0] as string[];
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
}
