import { describe, expect, it } from "vitest";
import { fileNameOf, ticketKey } from "../../src/store/metadata.ts";

describe("the file name an item shows", () => {
  it("drops the ticket folder the gallery adds, and only that", () => {
    const key = ticketKey("uploads/", "holiday.jpg");
    expect(key).toMatch(/^uploads\/[A-Za-z0-9_-]{14}\/holiday\.jpg$/);
    expect(fileNameOf(key, "uploads/")).toBe("holiday.jpg");
  });

  it("keeps folders the uploader chose as part of the name", () => {
    expect(fileNameOf("uploads/nested/folder/x.jpg", "uploads/")).toBe("nested/folder/x.jpg");
    expect(fileNameOf("uploads/2026/x.jpg", "uploads/")).toBe("2026/x.jpg");
    expect(fileNameOf("uploads/x.jpg", "uploads/")).toBe("x.jpg");
  });
});
