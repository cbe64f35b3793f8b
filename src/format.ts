/**
 * A figure over its limit and the limit, as `format` writes them, for "X is over the limit of
 * Y". When both round to the same text ("100.0 MP" over "100.0 MP"), each gets its exact count
 * in `unit` as well, so the message still says by how much.
 */
export function overLimitFigures(
  value: number,
  limit: number,
  format: (n: number) => string,
  unit: string,
): [value: string, limit: string] {
  const [shown, limitShown] = [format(value), format(limit)];
  if (shown !== limitShown) return [shown, limitShown];
  const exact = (n: number) => `${n.toLocaleString("en-US")} ${unit}`;
  return [`${shown} (${exact(value)})`, `${limitShown} (${exact(limit)})`];
}

/** A byte count for people: 512 B, 3.4 KB, 1.2 MB, 2.00 GB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

// C0 controls (ESC, BEL, CR, backspace, newline...), DEL, C1 controls (U+009B is an 8-bit CSI on
// many terminals), and the bidirectional formatting characters that reorder what a line shows
// (Unicode TR9: LRE..RLO U+202A-202E, LRI..PDI U+2066-2069, LRM/RLM/ALM).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from data (object keys, file names, error messages) made inert for a terminal: every
 * control or bidirectional formatting character becomes a visible escape (`\x1b`, `\u202e`),
 * so a key cannot clear the screen, retitle the window or reverse a line. Newlines are escaped
 * too: one value stays on one line. Every CLI prints data through this (or `formatTable`).
 */
export function escapeTerminal(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** `escapeTerminal` for a message of several lines: each line escaped, the line breaks kept. */
export function escapeTerminalLines(text: string): string {
  return text.split("\n").map(escapeTerminal).join("\n");
}

const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text made safe for a terminal or a log line: JSON.stringify escapes C0 controls already
 * but leaves DEL, C1 controls and bidirectional formatting characters raw; those become
 * `\uXXXX`, which parses back to the same value.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** JSON.stringify(value, null, indent) for a terminal (see terminalSafeJson). */
export function terminalJson(value: unknown, indent?: number): string {
  return terminalSafeJson(JSON.stringify(value, null, indent));
}
