import { describe, expect, it } from "vitest";
import { mergeChunk, splitCitations } from "./answerText";

describe("mergeChunk", () => {
  it("appends a chunk that continues the text", () => {
    expect(mergeChunk("Hello", 5, " world")).toEqual({ kind: "appended", text: "Hello world" });
  });

  it("drops a chunk the text already holds, and keeps the new part of an overlapping one", () => {
    expect(mergeChunk("Hello world", 0, "Hello")).toEqual({ kind: "duplicate" });
    expect(mergeChunk("Hello wo", 6, "world!")).toEqual({ kind: "appended", text: "Hello world!" });
  });

  it("reports a gap when a chunk starts past the end", () => {
    expect(mergeChunk("Hi", 5, "there")).toEqual({ kind: "gap" });
  });

  it("counts UTF-16 units, as the server does", () => {
    const text = "Smile 😀";
    expect(text.length).toBe(8);
    expect(mergeChunk(text, 8, "!")).toEqual({ kind: "appended", text: "Smile 😀!" });
  });
});

describe("splitCitations", () => {
  it("turns cited markers into citations and leaves unknown ones as text", () => {
    expect(splitCitations("Five days [1] or [7].", new Set([1]))).toEqual([
      { kind: "text", text: "Five days " },
      { kind: "cite", n: 1 },
      { kind: "text", text: " or [7]." },
    ]);
  });
});
