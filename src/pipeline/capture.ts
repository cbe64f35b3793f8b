import exifr from "exifr";

/** When and with what a photo was taken, from its EXIF (and XMP) tags. Every field is optional. */
export interface Capture {
  /**
   * DateTimeOriginal as ISO 8601: "2024-05-01T14:03:22+02:00" when OffsetTimeOriginal gives
   * the zone (EXIF 2.31), otherwise "2024-05-01T14:03:22", the camera's local time.
   */
  takenAt?: string;
  make?: string;
  model?: string;
  lens?: string;
  /** Exposure time in seconds (0.004 for 1/250 s). */
  exposureTime?: number;
  /** The f-number (2.8 for f/2.8). */
  fNumber?: number;
  iso?: number;
  /** Focal length in millimetres, as the lens reports it (not 35 mm equivalent). */
  focalLength?: number;
  /** Whether the file carries GPS coordinates (recorded or not). */
  gpsPresent: boolean;
  /** Degrees, WGS 84: only when RECORD_GPS=true, since they reveal where people live. */
  latitude?: number;
  longitude?: number;
}

const TAGS = [
  "DateTimeOriginal",
  "OffsetTimeOriginal",
  "Make",
  "Model",
  "LensModel",
  "ExposureTime",
  "FNumber",
  "ISO",
  "FocalLength",
  "GPSLatitude",
  "GPSLatitudeRef",
  "GPSLongitude",
  "GPSLongitudeRef",
];

/**
 * Reads the capture metadata with exifr from the EXIF block that libvips has already found
 * in the file (JPEG APP1, PNG eXIf, WebP/HEIF/AVIF Exif item, TIFF IFD0): one reader for
 * every container. Metadata is a bonus, never a reason to fail an image: unreadable or
 * missing tags give `undefined`.
 *
 * @param exif - sharp's `metadata().exif`: a TIFF structure, possibly after "Exif\0\0".
 * @param recordGps - keep the coordinates; otherwise only `gpsPresent` says they exist.
 */
export async function readCapture(exif: Buffer | undefined, recordGps: boolean): Promise<Capture | undefined> {
  if (!exif || exif.length < 8) return undefined;
  const tiff = exif.subarray(0, 6).toString("latin1") === "Exif\0\0" ? exif.subarray(6) : exif;
  let tags: Record<string, unknown> | undefined;
  try {
    // reviveValues: false keeps DateTimeOriginal as written; exifr would read it in this
    // machine's time zone.
    tags = await exifr.parse(tiff, { pick: TAGS, reviveValues: false });
  } catch {
    return undefined;
  }
  if (!tags) return undefined;
  const latitude = coordinate(tags.GPSLatitude, tags.GPSLatitudeRef, "S");
  const longitude = coordinate(tags.GPSLongitude, tags.GPSLongitudeRef, "W");
  const gpsPresent = latitude !== undefined && longitude !== undefined;
  const capture: Capture = {
    takenAt: takenAt(tags.DateTimeOriginal, tags.OffsetTimeOriginal),
    make: text(tags.Make),
    model: text(tags.Model),
    lens: text(tags.LensModel),
    exposureTime: positive(tags.ExposureTime),
    fNumber: positive(tags.FNumber),
    iso: positive(tags.ISO),
    focalLength: positive(tags.FocalLength),
    gpsPresent,
    ...(recordGps && gpsPresent ? { latitude, longitude } : {}),
  };
  const defined = Object.entries(capture).filter(([, value]) => value !== undefined);
  // gpsPresent alone (false) says nothing: no capture metadata at all.
  return defined.length > 1 || gpsPresent ? (Object.fromEntries(defined) as unknown as Capture) : undefined;
}

/**
 * EXIF dates are "YYYY:MM:DD HH:MM:SS" (EXIF 2.32 §4.6.5); offsets "+HH:MM". A date that is no
 * calendar date (month 13, hour 25) gives none, and an offset outside UTC−12:00..+14:00 (the
 * zones that exist) is left off, so takenAt is always valid ISO 8601 that Date.parse reads.
 */
function takenAt(date: unknown, offset: unknown): string | undefined {
  const match = typeof date === "string" ? /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(date) : null;
  if (!match || match[1] === "0000") return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as number[];
  const asDate = new Date(Date.UTC(year ?? 0, (month ?? 0) - 1, day, hour, minute, second));
  if (asDate.getUTCMonth() !== (month ?? 0) - 1 || asDate.getUTCDate() !== day || asDate.getUTCHours() !== hour) {
    return undefined;
  }
  if (minute === undefined || minute > 59 || second === undefined || second > 59) return undefined;
  const zoneMatch = typeof offset === "string" ? /^([+-])(\d{2}):(\d{2})$/.exec(offset.trim()) : null;
  const zoneMinutes = zoneMatch ? Number(zoneMatch[2]) * 60 + Number(zoneMatch[3]) : Number.NaN;
  const zoneValid =
    zoneMatch !== null && Number(zoneMatch[3]) < 60 && zoneMinutes <= (zoneMatch[1] === "+" ? 14 * 60 : 12 * 60);
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${zoneValid ? zoneMatch[0] : ""}`;
}

function coordinate(value: unknown, ref: unknown, negative: string): number | undefined {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    return undefined;
  }
  const [deg, min, sec] = value as [number, number, number];
  const decimal = deg + min / 60 + sec / 3600;
  return Math.round((ref === negative ? -decimal : decimal) * 1e6) / 1e6;
}

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  // Camera strings are padded with NULs and spaces; keep them printable and short.
  const clean = value
    .replace(/\p{Cc}/gu, "")
    .trim()
    .slice(0, 100);
  return clean.length > 0 ? clean : undefined;
}

function positive(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}
