import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteQueueCommand } from "@aws-sdk/client-sqs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { objectExists } from "../../src/aws/lookups.ts";
import { createPipeline, drainQueue, type Pipeline } from "../helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const FOREIGN = "http://evil.example";

describe("the AWS endpoint and pages from other origins", () => {
  let p: Pipeline;
  let endpoint: string;
  let galleryOrigin: string;
  let victimKey: string;
  // A page of "some other site" on another port, opened in headless Chromium when there is one.
  let browser: Browser | undefined;
  let site: http.Server | undefined;
  let siteUrl = "";

  beforeAll(async () => {
    p = await createPipeline();
    endpoint = p.config.target.kind === "emulator" ? p.config.target.endpoint : "";
    galleryOrigin = `http://127.0.0.1:${p.config.web.port}`;
    victimKey = `${p.config.uploadPrefix}someone-else.jpg`;
    await p.clients.s3.send(
      new PutObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: victimKey, Body: "bytes" }),
    );
    if (!hasChromium) return;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><title>some other site</title>");
    });
    site = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    siteUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
    await p?.close();
  });

  const accessControlHeaders = (res: Response) =>
    [...res.headers.keys()].filter((h) => h.startsWith("access-control-"));
  const exists = (key: string) => objectExists(p.clients.s3, p.config.names.uploadsBucket, key);

  it("gives a foreign origin's preflight no Access-Control-Allow-* headers", async () => {
    const res = await fetch(`${endpoint}/${p.config.names.uploadsBucket}/${victimKey}`, {
      method: "OPTIONS",
      headers: { origin: FOREIGN, "access-control-request-method": "DELETE" },
    });
    expect(res.status).toBe(403);
    expect(accessControlHeaders(res)).toEqual([]);
  });

  it("refuses a foreign origin's GET and form POST before they run", async () => {
    const list = await fetch(`${endpoint}/`, { headers: { origin: FOREIGN } });
    expect(list.status).toBe(403);
    expect(accessControlHeaders(list)).toEqual([]);

    // A "simple" request: a browser sends it without a preflight, so refusing it is what stops it.
    const form = new FormData();
    form.append("key", `${p.config.uploadPrefix}planted.html`);
    form.append("file", new Blob(["<script>alert(1)</script>"], { type: "text/html" }), "planted.html");
    const post = await fetch(`${endpoint}/${p.config.names.uploadsBucket}`, {
      method: "POST",
      headers: { origin: FOREIGN },
      body: form,
    });
    expect(post.status).toBe(403);
    expect(await exists(`${p.config.uploadPrefix}planted.html`)).toBe(false);
  });

  it("answers the gallery's own origin, naming it (never *)", async () => {
    const res = await fetch(`${endpoint}/${p.config.names.uploadsBucket}`, {
      method: "OPTIONS",
      headers: { origin: galleryOrigin, "access-control-request-method": "POST" },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe(galleryOrigin);
    if (inject("backend") === "embedded") {
      // Behind the edge, dynalite's own `Access-Control-Allow-Origin: *` must not get through.
      const dynamo = await fetch(endpoint, {
        method: "POST",
        headers: {
          origin: galleryOrigin,
          "x-amz-target": "DynamoDB_20120810.ListTables",
          "content-type": "application/x-amz-json-1.0",
        },
        body: "{}",
      });
      expect(dynamo.headers.get("access-control-allow-origin")).toBe(galleryOrigin);
    }
  });

  it("leaves requests without an Origin (SDKs, CLIs) alone", async () => {
    const res = await fetch(`${endpoint}/${p.config.names.uploadsBucket}?list-type=2`);
    // Unsigned: the stack answers as it always did, with no CORS headers.
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses an SQS query-protocol GET a browser sends for another site's page (no Origin on a GET)", async () => {
    // `<img src=…?Action=SendMessage…>` or fetch(…, {mode: "no-cors"}) carry no Origin, but the
    // browser marks them with Fetch Metadata; a CLI's GET has no Sec-Fetch-* and still works.
    if (inject("backend") !== "embedded") return;
    const url = `${endpoint}/?Action=ListQueues&Version=2012-11-05`;
    for (const site of ["cross-site", "same-site"]) {
      const res = await fetch(url, { headers: { "sec-fetch-site": site, "sec-fetch-mode": "no-cors" } });
      expect(res.status).toBe(403);
      expect(accessControlHeaders(res)).toEqual([]);
    }
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url, { headers: { "sec-fetch-site": "none" } })).status).toBe(200);
  });

  it.skipIf(!hasChromium)(
    "a page on another port in Chromium cannot send to, purge or delete a queue by GET",
    async () => {
      if (inject("backend") !== "embedded") return;
      const { QueueUrl } = await p.clients.sqs.send(new CreateQueueCommand({ QueueName: `victim-${Date.now()}` }));
      const queueUrl = QueueUrl ?? "";
      const page = await (browser as Browser).newPage();
      await page.goto(siteUrl);
      await page.evaluate(
        async ({ endpoint, queueUrl }) => {
          const send = (body: string) =>
            `${endpoint}/?Action=SendMessage&Version=2012-11-05&QueueUrl=${encodeURIComponent(queueUrl)}&MessageBody=${body}`;
          await fetch(send("by-fetch"), { mode: "no-cors" }).catch(() => undefined);
          await new Promise((resolve) => {
            const img = new Image();
            img.onload = img.onerror = resolve;
            img.src = send("by-img");
          });
        },
        { endpoint, queueUrl },
      );
      await page.close();
      expect(await drainQueue(p.clients, queueUrl)).toEqual([]);
      await p.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    },
  );

  it.skipIf(!hasChromium)(
    "a page on another port in Chromium can neither read, delete, scan nor plant anything",
    async () => {
      const page = await (browser as Browser).newPage();
      await page.goto(siteUrl);
      const outcome = await page.evaluate(
        async ({ endpoint, bucket, victimKey, plantedKey, table }) => {
          const attempt = async (run: () => Promise<Response>) => {
            try {
              const res = await run();
              return res.type === "opaque" ? "opaque" : `read ${res.status}`;
            } catch {
              return "blocked";
            }
          };
          const form = new FormData();
          form.append("key", plantedKey);
          form.append("file", new Blob(["<script>alert(1)</script>"], { type: "text/html" }), "x.html");
          return {
            list: await attempt(() => fetch(`${endpoint}/`)),
            remove: await attempt(() => fetch(`${endpoint}/${bucket}/${victimKey}`, { method: "DELETE" })),
            scan: await attempt(() =>
              fetch(endpoint, {
                method: "POST",
                headers: { "x-amz-target": "DynamoDB_20120810.Scan", "content-type": "application/x-amz-json-1.0" },
                body: JSON.stringify({ TableName: table }),
              }),
            ),
            plant: await attempt(() => fetch(`${endpoint}/${bucket}`, { method: "POST", mode: "no-cors", body: form })),
          };
        },
        {
          endpoint,
          bucket: p.config.names.uploadsBucket,
          victimKey,
          plantedKey: `${p.config.uploadPrefix}planted-by-page.html`,
          table: p.config.names.table,
        },
      );
      expect(outcome).toEqual({ list: "blocked", remove: "blocked", scan: "blocked", plant: "opaque" });
      // The no-cors POST was sent (its answer is opaque to the page): the stack must have refused it.
      expect(await exists(victimKey)).toBe(true);
      expect(await exists(`${p.config.uploadPrefix}planted-by-page.html`)).toBe(false);
      await page.close();
    },
  );
});
