// Overwrite trials, by hand, against a running `npm start` (AWS_ENDPOINT_URL):
// `node_modules/.bin/tsx test/bench/overwrite-trials.ts [ROUNDS=5]`. Uploads a 6000×4000 JPEG,
// then a 300×400 JPEG to the same key 0, 50, 150 and 300 ms later, waits for the item, and checks
// that it describes the small image, that every thumbnail it names decodes to the size it says
// (portrait), and that no other thumbnail is left under the image's prefix. Exits 1 if any is not.
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { createClients } from "../../src/aws/clients.ts";
import { loadConfig } from "../../src/config.ts";
import { getImageItem, type ImageItem, imageIdFor } from "../../src/store/metadata.ts";

const config = loadConfig(process.env as Record<string, string | undefined>);
const clients = createClients(config);
const big = await sharp({ create: { width: 6000, height: 4000, channels: 3, background: "#c85028" } })
  .jpeg()
  .toBuffer();
const small = await sharp({ create: { width: 300, height: 400, channels: 3, background: "#2850c8" } })
  .jpeg()
  .toBuffer();
const rounds = Number(process.argv[2] ?? 5);
let ok = 0;
let total = 0;
for (const delay of [0, 50, 150, 300]) {
  for (let r = 0; r < rounds; r++) {
    const key = `uploads/trial-${Date.now()}-${delay}-${r}.jpg`;
    const put = (body: Buffer) =>
      clients.s3.send(
        new PutObjectCommand({ Bucket: config.names.uploadsBucket, Key: key, Body: body, ContentType: "image/jpeg" }),
      );
    await put(big);
    await sleep(delay);
    await put(small);
    const id = imageIdFor(config.names.uploadsBucket, key);
    let item: ImageItem | undefined;
    for (let i = 0; i < 120; i++) {
      item = await getImageItem(clients, config.names, id);
      if (item?.width === 300) break;
      await sleep(250);
    }
    await sleep(2000); // any late event of the big upload lands by now
    item = await getImageItem(clients, config.names, id);
    const named = (item?.thumbnails ?? []).map((t) => t.key).sort();
    let consistent = item?.width === 300 && item?.height === 400;
    for (const t of item?.thumbnails ?? []) {
      const res = await clients.s3.send(new GetObjectCommand({ Bucket: config.names.thumbnailsBucket, Key: t.key }));
      const bytes = await res.Body?.transformToByteArray();
      const meta = bytes ? await sharp(Buffer.from(bytes)).metadata() : undefined;
      if (!meta || meta.width !== t.width || meta.height !== t.height || meta.height < meta.width) consistent = false;
    }
    const listed = await clients.s3.send(
      new ListObjectsV2Command({ Bucket: config.names.thumbnailsBucket, Prefix: `${id}/` }),
    );
    const stored = (listed.Contents ?? []).map((o) => o.Key).sort();
    if (JSON.stringify(stored) !== JSON.stringify(named)) consistent = false;
    total++;
    if (consistent) ok++;
    console.log(
      `${delay} ms #${r}: item ${item?.width}×${item?.height}, thumbnails ${(item?.thumbnails ?? []).map((t) => `${t.width}×${t.height}`).join(", ")}, objects under prefix ${stored.length}: ${consistent ? "consistent" : "INCONSISTENT"}`,
    );
  }
}
console.log(`${ok} of ${total} consistent`);
process.exit(ok === total ? 0 : 1);
