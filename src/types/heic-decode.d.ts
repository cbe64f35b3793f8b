declare module "heic-decode" {
  interface DecodedImage {
    width: number;
    height: number;
    /** RGBA, 8 bits per channel. */
    data: Uint8ClampedArray;
  }
  /** Decodes the first image of a HEIC/HEIF file (libheif + libde265 in WebAssembly). */
  export default function decode(input: { buffer: Buffer | Uint8Array | ArrayBuffer }): Promise<DecodedImage>;
}
