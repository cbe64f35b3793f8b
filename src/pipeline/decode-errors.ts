import { ErrorCode, errorMessage, PermanentError } from "../errors.ts";

/**
 * What libvips' (and libheif's) messages mean, most specific first. libvips often says only
 * "vipspng: libpng read error" and puts the cause in its warnings ("IDAT: CRC error"), so
 * both are matched.
 */
const MEANINGS: [RegExp, (format: string) => string][] = [
  [/CRC error|checksum|incorrect (header|data) check/i, (f) => `The ${f}'s data is corrupt (checksum mismatch)`],
  [
    /premature end|not enough data|unexpected end|end of (file|data|stream)|truncated|bad seek|read error at scanline|short read/i,
    (f) => `The ${f} ends early: the file was cut off`,
  ],
  [
    /corrupt (JPEG )?data|huffman|invalid (code|distance|literal|block|stored)|too many length|decompress|marker/i,
    (f) => `The ${f}'s compressed data is corrupt`,
  ],
  [
    /corrupt header|unable to parse|invalid input|unsupported image format|not a (valid|known)|no '\w+' box/i,
    (f) => `The ${f}'s header is corrupt: it cannot be read`,
  ],
  [/out of memory|memory allocation/i, (f) => `The ${f} needs more memory to decode than is allowed`],
];

/**
 * One clear line for a decoder failure, and the decoder's own words, de-duplicated, kept in
 * `detail` for debugging.
 *
 * @param format - display name of the detected format ("JPEG", "PNG", "HEIC").
 * @param error - what sharp or the HEIC decoder threw.
 * @param warnings - libvips warnings raised while decoding (sharp's `warning` events).
 * @returns a PermanentError CORRUPT_IMAGE with message and detail.
 */
export function decodeError(format: string, error: unknown, warnings: string[] = []): PermanentError {
  const lines = [...errorMessage(error).split("\n"), ...warnings]
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const distinct = [...new Set(lines)];
  const text = distinct.join("\n");
  const meaning = MEANINGS.find(([pattern]) => pattern.test(text))?.[1];
  const first = (distinct[0] ?? "unknown error").replace(/^(Input buffer (has|contains) |[\w]+load(_buffer)?: )/i, "");
  const message = meaning ? meaning(format) : `The ${format} cannot be decoded: ${first}`;
  return new PermanentError(ErrorCode.CorruptImage, message, { cause: error, detail: distinct.join("; ") });
}
