/**
 * How the long-running processes are launched. Measured with `npm run bench` on the sample
 * corpus, 2 cores; a unit test keeps package.json's scripts in step with these.
 *
 * The worker: `npm run worker` (and so the Docker image), `npm start`'s child, the benchmark.
 */
export const WORKER_PROCESS = {
  /**
   * V8 starts old-generation collections at a small heap: about 45 full mark-compacts per
   * 150 images, each also keeping V8's helper threads busy. 64 MiB before the first one cut
   * them to about 11 and the worker's CPU per image by about 8 %, for about 15 MiB more peak RSS.
   */
  nodeFlags: ["--initial-old-space-size=64"],
  /**
   * glibc gives each libvips thread its own malloc arena; two keep the worker's peak memory
   * over the corpus near 420 instead of 500-700 MiB. An environment variable, so `npm start`
   * and the Docker image set it; `npm run worker` on its own does not.
   */
  env: { MALLOC_ARENA_MAX: "2" },
} as const;

/**
 * The embedded stack (`npm start`, `npm run stack`, and the benchmark, which hosts it): it
 * keeps 35-50 MiB of live objects and collected its old generation about 12 times per 50
 * images. 128 MiB before the first collection cut its CPU per image by about 20 %.
 */
export const STACK_PROCESS = {
  nodeFlags: ["--initial-old-space-size=128"],
} as const;
