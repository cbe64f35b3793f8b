import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { thumbnailKey } from "../../src/pipeline/handler.ts";
import { versionToken } from "../../src/pipeline/ordering.ts";
import { imageIdFor } from "../../src/store/metadata.ts";
import { createPipeline, dimensionsOf, jpeg, type Pipeline, png } from "../helpers.ts";

describe("upload → worker → thumbnails and metadata", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await createPipeline({ worker: true });
  });
  afterAll(() => p.close());

  it("makes every thumbnail size and records the image", async () => {
    const body = await jpeg(1600, 1200);
    const key = await p.upload("holiday photo (1).jpg", body, "image/jpeg");
    const item = await p.waitForItem(key);
    const imageId = imageIdFor(p.config.names.uploadsBucket, key);

    expect(item).toMatchObject({
      imageId,
      bucket: p.config.names.uploadsBucket,
      key: "uploads/holiday photo (1).jpg",
      name: "holiday photo (1).jpg",
      status: "PROCESSED",
      contentType: "image/jpeg",
      format: "jpeg",
      width: 1600,
      height: 1200,
      bytes: body.length,
    });
    expect(item.uploadDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(item.processingMs).toBeGreaterThanOrEqual(0);
    expect(item.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    expect(item.thumbnails?.map((t) => [t.size, t.width, t.height])).toEqual([
      [128, 128, 96],
      [512, 512, 384],
    ]);
    for (const thumb of item.thumbnails ?? []) {
      expect(thumb.key).toBe(thumbnailKey(imageId, versionToken(item.sequencer, item.eTag), thumb.size, "jpeg"));
      const data = await p.getObject(p.config.names.thumbnailsBucket, thumb.key);
      expect(await dimensionsOf(data)).toEqual({ width: thumb.width, height: thumb.height, format: "jpeg" });
      expect(data.length).toBe(thumb.bytes);
    }
  });

  it("records a corrupt upload as FAILED with its reason and keeps processing the next one", async () => {
    const bad = await p.upload("broken.jpg", Buffer.from("definitely not a jpeg"), "image/jpeg");
    const good = await p.upload("fine.png", await png(300, 200), "image/png");
    const failed = await p.waitForItem(bad);
    expect(failed).toMatchObject({ status: "FAILED", errorCode: "NOT_AN_IMAGE" });
    expect(failed.errorMessage).toMatch(/not an image/i);
    expect(failed.thumbnails).toBeUndefined();
    expect(await p.waitForItem(good)).toMatchObject({ status: "PROCESSED", width: 300, height: 200 });
  });

  it("updates the same item when a key is uploaded again", async () => {
    const key = await p.upload("again.jpg", await jpeg(400, 300));
    const first = await p.waitForItem(key);
    await p.upload("again.jpg", await jpeg(300, 400));
    const second = await p.waitForItem(key, (item) => item.width === 300);
    expect(second.imageId).toBe(first.imageId);
    expect(second.height).toBe(400);
  });
});
