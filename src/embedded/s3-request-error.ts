/** An error S3 would answer with its own code and status, e.g. 400 EntityTooLarge. */
export class S3RequestError extends Error {
  override name = "S3RequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** More elements of S3's <Error>, e.g. MaxSizeAllowed. */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}
