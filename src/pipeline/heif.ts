import { crc32, deflateSync } from "node:zlib";

export interface DecodedPixels {
  /** RGBA, 8 bits per channel, row by row: width × height × 4 bytes. */
  data: Buffer;
  /** Display size: libheif has applied the irot/imir/clap transformations. */
  width: number;
  height: number;
}

let queue: Promise<unknown> = Promise.resolve();
let decoder: Promise<typeof import("heic-decode").default> | undefined;

/** Loaded on the first HEIC: importing it compiles 1.4 MB of WebAssembly (about 0.3 s of CPU). */
function loadDecoder() {
  decoder ??= import("heic-decode").then((module) => module.default);
  return decoder;
}

/**
 * Decodes HEVC-coded HEIF (the HEIC of phones) with libheif and libde265 compiled to
 * WebAssembly (npm `heic-decode` over `libheif-js`): sharp's prebuilt libvips reads the
 * HEIF header but has no HEVC decoder, for patent reasons.
 *
 * Call it only after the header's pixel count was checked: the decoder holds the whole image.
 * Decodes run one at a time per process: WebAssembly decodes on the calling thread, so a
 * second one at once would not finish sooner but double the memory. The module's memory
 * grows to the largest image decoded (about 10 bytes per pixel: planes, RGBA and this copy)
 * and WebAssembly never gives it back: MAX_IMAGE_PIXELS bounds it.
 *
 * @throws the decoder's Error for a corrupt or truncated file.
 */
export function decodeHevc(input: Buffer): Promise<DecodedPixels> {
  const run = queue.then(async () => {
    const decodeHeic = await loadDecoder();
    const { data, width, height } = await decodeHeic({ buffer: input });
    return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height };
  });
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Adds an ICC profile to a PNG that has none (an iCCP chunk right after IHDR, PNG spec
 * §11.3.3.3), so that libvips converts our decoder's pixels through the profile the HEIF
 * carried: sharp takes no input profile for raw pixels.
 */
export function withIccProfile(png: Buffer, icc: Buffer): Buffer {
  const ihdrEnd = 8 + 8 + 13 + 4; // signature, IHDR length + type, IHDR data, CRC
  const body = Buffer.concat([Buffer.from("iCCPicc\0\0", "latin1"), deflateSync(icc)]);
  const chunk = Buffer.alloc(body.length + 8);
  chunk.writeUInt32BE(body.length - 4, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), body.length + 4);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}
