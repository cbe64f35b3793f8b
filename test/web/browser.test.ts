import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { type Browser, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { createGalleryServer, type Gallery } from "../../web/gallery.ts";
import { createPipeline, type Pipeline } from "../helpers.ts";

/** Debian's Chromium, never a downloaded browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  process.stderr.write(
    `\n[browser tests] skipped: no Chromium at ${CHROMIUM}. Enable them with \`sudo apt-get install chromium\` (Debian/Ubuntu) or set CHROMIUM_PATH.\n\n`,
  );
}

const OUTPUT = path.resolve("test-output");
const XSS_NAME = "<img src=x onerror=alert(1)>.jpg";
// Real photos from img/, so that the screenshots show what a person would see.
const flower = readFileSync("img/mate-nature-FreshFlower.jpg"); // 1600×1203
const shell = readFileSync("img/plasma-Shell-720x1440.jpg"); // 720×1440

describe.skipIf(!hasChromium)("gallery in a real browser (headless Chromium)", () => {
  let p: Pipeline;
  let gallery: Gallery;
  let url: string;
  let browser: Browser;
  let page: Page;
  /** Everything the page did that it should not: alerts, script errors, CSP violations. */
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    p = await createPipeline({ worker: true });
    gallery = await createGalleryServer({ config: p.config, clients: p.clients, logger: silentLogger, pollMs: 300 });
    // On WEB_PORT: the one gallery origin the stack's CORS allowlist names.
    url = await gallery.listen(p.config.web.port, "127.0.0.1");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    // CSP violations are reported to the page, not to the console API.
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) =>
        console.error(`CSP blocked ${event.blockedURI} (${event.violatedDirective})`),
      );
      // Every status a card went through: uploads must show as in progress before they are done.
      (window as unknown as { seen: string[] }).seen = [];
      new MutationObserver((records) => {
        for (const record of records) {
          const target = record.target as Element;
          const nodes = record.type === "attributes" ? [target] : [...record.addedNodes];
          for (const node of nodes) {
            if (node instanceof Element && node.matches(".card")) {
              (window as unknown as { seen: string[] }).seen.push(node.getAttribute("data-status") ?? "");
            }
          }
        }
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await gallery?.close();
    await p?.close();
  });

  it("shows how to add images when there are none", async () => {
    await page.goto(url);
    await page.locator("#empty").waitFor({ state: "visible" });
    expect(await page.locator("#empty-title").textContent()).toBe("No images yet");
    expect(await page.locator("#empty").textContent()).toContain("npm run seed-images");
    await page.locator("#connection.live").waitFor();
  });

  it("uploads two images through the file input and shows both cards with names and dimensions", async () => {
    await page.locator("#file-input").setInputFiles([
      { name: "fresh flower.jpg", mimeType: "image/jpeg", buffer: flower },
      { name: XSS_NAME, mimeType: "image/jpeg", buffer: shell },
    ]);
    const processed = page.locator('.card[data-status="PROCESSED"]');
    await expect.poll(() => processed.count(), { timeout: 30_000 }).toBe(2);

    const cards = await processed.evaluateAll((nodes) =>
      nodes.map((node) => ({
        name: node.querySelector(".name")?.textContent,
        line: node.querySelector(".line")?.textContent,
        srcset: node.querySelector("img")?.getAttribute("srcset") ?? "",
      })),
    );
    expect(cards.map((c) => c.name).sort()).toEqual([XSS_NAME, "fresh flower.jpg"].sort());
    const byName = Object.fromEntries(cards.map((c) => [c.name, c]));
    expect(byName["fresh flower.jpg"]?.line).toMatch(/^1600×1203 · 79\.0 KB · JPEG$/);
    expect(byName[XSS_NAME]?.line).toMatch(/^720×1440 · /);
    // Sharp on high-density screens: the browser chooses among every thumbnail size.
    expect(byName["fresh flower.jpg"]?.srcset).toMatch(/ 128w, .* 512w$/);

    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen).toContain("PROCESSING");
    // Counts are cached for 2 s on the server.
    await expect.poll(() => page.locator("#count-processed").textContent(), { timeout: 10_000 }).toBe("2");

    // Wait for the thumbnails themselves, then record what a person sees.
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>(".card img")].every((img) => img.complete && img.naturalWidth),
    );
    await page.screenshot({ path: path.join(OUTPUT, "gallery-grid.png") });
  });

  it("renders a file name made of HTML as text and runs none of it", async () => {
    const card = page.locator(".card", { hasText: XSS_NAME });
    expect(await card.locator(".name").textContent()).toBe(XSS_NAME);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it("opens a larger preview with all metadata and a link to the original", async () => {
    await page.locator(".card", { hasText: "fresh flower.jpg" }).locator(".card-button").click();
    const dialog = page.locator("dialog#preview[open]");
    await dialog.waitFor();
    expect(await page.locator("#preview-name").textContent()).toBe("fresh flower.jpg");
    const meta = await page.locator("#preview-meta").textContent();
    for (const text of ["Processed", "1600×1203", "JPEG", "image/jpeg", "79.0 KB", "128×96", "512×385"]) {
      expect(meta).toContain(text);
    }
    // Under a key of its own (uploads/<ticket id>/<name>), as a download unless it decoded as an image.
    const original = (await page.locator("#preview-original").getAttribute("href")) ?? "";
    expect(original).toMatch(/\/uploads\/[\w-]+\/fresh%20flower\.jpg\?/);
    expect(original).toContain("response-content-type=image%2Fjpeg");
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>("#preview-img");
      // The largest thumbnail (naturalWidth is corrected by the srcset density, so ask for the URL).
      return img?.complete && img.naturalWidth > 0 && img.currentSrc.includes("/512.");
    });
    await page.screenshot({ path: path.join(OUTPUT, "gallery-preview.png") });

    // The keyboard moves to the next image and closes the preview.
    // Both were uploaded at once, so either may be first: step towards the other one.
    const first = await page.locator(".card .name").first().textContent();
    await page.keyboard.press(first === "fresh flower.jpg" ? "ArrowRight" : "ArrowLeft");
    await expect.poll(() => page.locator("#preview-name").textContent()).toBe(XSS_NAME);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(problems).toEqual([]);
  });

  it("shows an upload that cannot be processed as failed, with the reason", async () => {
    await page
      .locator("#file-input")
      .setInputFiles([
        { name: "broken.jpg", mimeType: "image/jpeg", buffer: Buffer.from("this is not a jpeg at all") },
      ]);
    const failed = page.locator('.card[data-status="FAILED"]', { hasText: "broken.jpg" });
    await failed.waitFor({ timeout: 30_000 });
    expect(await failed.locator(".reason").textContent()).toMatch(/not an image/i);
    await expect.poll(() => page.locator("#count-failed").textContent(), { timeout: 10_000 }).toBe("1");
  });

  it("uploads images dropped onto the page", async () => {
    // What a drag from the file manager delivers: a drop event whose DataTransfer holds files.
    const bytes = [...readFileSync("img/mate-nature-LadyBird.jpg")];
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], "dropped ladybird.jpg", { type: "image/jpeg" }));
      document.dispatchEvent(new DragEvent("dragenter", { dataTransfer: transfer, bubbles: true }));
      document.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    const card = page.locator('.card[data-status="PROCESSED"]', { hasText: "dropped ladybird.jpg" });
    await card.waitFor({ timeout: 30_000 });
    expect(await card.locator(".line").first().textContent()).toMatch(/^2560×1600 · /);
    expect(await page.locator("#drop").isHidden()).toBe(true);
  });

  it("filters by upload date and says so when nothing matches", async () => {
    const tomorrow = new Date(Date.now() + 86_400_000);
    const day = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, "0")}-${String(tomorrow.getDate()).padStart(2, "0")}`;
    await page.locator('input[name="since"]').fill(day);
    await page.locator("#empty").waitFor({ state: "visible" });
    expect(await page.locator("#empty-title").textContent()).toBe("No images match these filters");
    expect(await page.locator(".card").count()).toBe(0);

    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => page.locator(".card").count()).toBe(4);
    await page.locator('select[name="status"]').selectOption("FAILED");
    await expect.poll(() => page.locator(".card").count()).toBe(1);
    await page.locator('select[name="status"]').selectOption("");
    await expect.poll(() => page.locator(".card").count()).toBe(4);
  });

  it("drops the card (and closes its preview) when the image is deleted from S3", async () => {
    const name = "dropped ladybird.jpg";
    await page.locator(".card", { hasText: name }).locator(".card-button").click();
    await page.locator("dialog#preview[open]").waitFor();
    const listed = await p.clients.s3.send(
      new ListObjectsV2Command({ Bucket: p.config.names.uploadsBucket, Prefix: p.config.uploadPrefix }),
    );
    const key = listed.Contents?.find((o) => o.Key?.endsWith(`/${name}`))?.Key;
    expect(key).toBeDefined();
    await p.clients.s3.send(new DeleteObjectCommand({ Bucket: p.config.names.uploadsBucket, Key: key }));
    // No reload: the live feed says `removed` once the item is a tombstone.
    await page.locator(".card", { hasText: name }).waitFor({ state: "detached", timeout: 30_000 });
    await page.locator("dialog#preview[open]").waitFor({ state: "detached" });
    expect(await page.locator(".card").count()).toBe(3);
    expect(problems).toEqual([]);
  });

  it("shows a light image on transparency on a dark checkerboard, never as a blank white card", async () => {
    const name = "mate-abstract-Arc-Colors-Transparent-Wallpaper.png"; // white curves, at most 48 % opaque
    await page
      .locator("#file-input")
      .setInputFiles([{ name, mimeType: "image/png", buffer: readFileSync(`img/${name}`) }]);
    const img = page.locator(`.card[data-status="PROCESSED"]:has(.name:text-is("${name}")) img`);
    await img.waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      (n) =>
        [...document.querySelectorAll<HTMLElement>(".card")].some(
          (card) =>
            card.querySelector(".name")?.textContent === n &&
            card.querySelector<HTMLImageElement>("img.loaded")?.naturalWidth,
        ),
      name,
    );
    expect(await img.getAttribute("class")).toContain("on-dark");
    // What a person sees: a dark backdrop with the curves on it (a light one averages above 200).
    const { channels } = await sharp(await img.screenshot()).stats();
    const mean = channels.slice(0, 3).reduce((sum, c) => sum + c.mean, 0) / 3;
    expect(mean).toBeLessThan(128);
  });

  it("stays usable in a narrow window", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(OUTPUT, "gallery-narrow.png") });
    expect(problems).toEqual([]);
  });

  it("shows a name's bidi override and control characters as escapes: an .exe cannot read as .jpg", async () => {
    // Any S3 client can store such a key; only the page's own upload tickets refuse it.
    const name = "holiday\u202egpj.exe\u001b[2J";
    await p.clients.s3.send(
      new PutObjectCommand({
        Bucket: p.config.names.uploadsBucket,
        Key: `${p.config.uploadPrefix}${name}`,
        Body: flower,
        ContentType: "image/jpeg",
      }),
    );
    const card = page.locator('.card[data-status="PROCESSED"]', { hasText: "holiday" });
    await card.waitFor({ timeout: 30_000 });
    const shown = "holiday\\u202egpj.exe\\x1b[2J";
    expect(await card.locator(".name").textContent()).toBe(shown);
    expect(await card.locator(".name").getAttribute("title")).toBe(shown);
    await card.locator(".card-button").click();
    await page.locator("dialog#preview[open]").waitFor();
    expect(await page.locator("#preview-name").textContent()).toBe(shown);
    expect(await page.locator("#preview-img").getAttribute("alt")).toBe(shown);
    await page.keyboard.press("Escape");
    expect(problems).toEqual([]);
  });
});
