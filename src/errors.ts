/** Stable codes stored on FAILED items and used in logs and metrics. */
export const ErrorCode = {
  NotAnImage: "NOT_AN_IMAGE",
  UnsupportedFormat: "UNSUPPORTED_FORMAT",
  CorruptImage: "CORRUPT_IMAGE",
  TooLarge: "TOO_LARGE",
  TooManyPixels: "TOO_MANY_PIXELS",
  EmptyObject: "EMPTY_OBJECT",
  BadMessage: "BAD_MESSAGE",
  Config: "CONFIG",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class PipelineError extends Error {
  override name = "PipelineError";
  readonly code: ErrorCode;
  /** The underlying library's own words (e.g. libvips' messages), for debugging; `message` is for people. */
  readonly detail: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options);
    this.code = code;
    this.detail = options?.detail;
  }
}

/** The input itself is bad: record it as FAILED and never retry. */
export class PermanentError extends PipelineError {
  override name = "PermanentError";
}

export class ConfigError extends PipelineError {
  override name = "ConfigError";
  constructor(message: string) {
    super(ErrorCode.Config, message);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
