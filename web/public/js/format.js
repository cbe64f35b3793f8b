// Text for the page: sizes, dates and times, dimensions, whether a colour is light. Pure
// functions of their arguments (and the browser's locale); imports nothing.
export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
export function timeAgo(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Number.POSITIVE_INFINITY, "year"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
export const fullDate = (iso) => (iso ? absolute.format(new Date(iso)) : "");

export function localDayStart(date) {
  return new Date(`${date}T00:00:00`).toISOString();
}
export function localDayEnd(date) {
  return new Date(`${date}T23:59:59.999`).toISOString();
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export const dimensions = (v) => (v.width && v.height ? `${v.width}×${v.height}` : "");
export const formatName = (v) => (v.format ? v.format.toUpperCase() : "");

// C0 and C1 controls, DEL, and the bidirectional formatting characters that reorder a line
// (Unicode TR9: ALM, LRM/RLM, LRE..RLO U+202A-202E, LRI..PDI U+2066-2069): the set escapeTerminal
// in src/format.ts escapes for the CLIs.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * A name from the data (an S3 key's last part) as the page shows it: each control or bidi
 * formatting character as a visible escape (`\u202e`), so "photo\u202egpj.exe" cannot read as
 * "photoexe.jpg". Keys reach S3 from any client; only the page's own upload tickets refuse them.
 */
export function visibleText(text) {
  return String(text ?? "").replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Whether a #rrggbb colour is light: relative luminance (WCAG 2, sRGB) above 0.5. */
export function isLight(hex) {
  if (!/^#[0-9a-f]{6}$/i.test(hex ?? "")) return false;
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5;
}
