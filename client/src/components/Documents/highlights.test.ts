// @vitest-environment node
import { describe, expect, it } from "vitest";
import { splitHighlights } from "./highlights";

function render(text: string, ranges: Array<[number, number]>): string {
  return splitHighlights(text, ranges)
    .map((p) => (p.marked ? `[${p.text}]` : p.text))
    .join("");
}

describe("splitHighlights", () => {
  it("marks each range", () => {
    expect(
      render("the quick brown fox", [
        [4, 9],
        [16, 19],
      ]),
    ).toBe("the [quick] brown [fox]");
  });

  it("returns the whole text unmarked without ranges", () => {
    expect(splitHighlights("plain", [])).toEqual([{ text: "plain", marked: false, start: 0 }]);
  });

  it("sorts, merges overlapping and touching ranges, clamps, and ignores empty ones", () => {
    expect(
      render("abcdefghij", [
        [6, 8],
        [0, 2],
        [1, 3],
        [3, 4],
        [5, 5],
        [8, 99],
        [-4, -1],
      ]),
    ).toBe("[abcd]ef[ghij]");
  });

  it("counts code points, as the server does, so an emoji does not shift a match", () => {
    expect(render("😀 ok fine", [[2, 4]])).toBe("😀 [ok] fine");
  });

  it("keeps markup as literal text", () => {
    const parts = splitHighlights("say <b>bold</b>", [[5, 6]]);
    expect(parts.map((p) => p.text).join("")).toBe("say <b>bold</b>");
    expect(parts.filter((p) => p.marked).map((p) => p.text)).toEqual(["b"]);
  });
});
