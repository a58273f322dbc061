import { describe, expect, it } from "vitest";
import { LogAssembler } from "./logAssembler";

describe("LogAssembler", () => {
  it("passes contiguous chunks through and drops duplicates by offset", () => {
    const log = new LogAssembler();
    expect(log.accept({ offset: 0, stream: "stdout", data: "héllo\n" })).toEqual({
      stream: "stdout",
      text: "héllo\n",
      omitted: 0,
    });
    expect(log.next).toBe(7);
    expect(log.accept({ offset: 0, stream: "stdout", data: "héllo\n" })).toBeNull();
    expect(log.accept({ offset: 7, stream: "stderr", data: "oops\n" })?.text).toBe("oops\n");
    expect(log.next).toBe(12);
  });

  it("keeps only the new part of an overlapping chunk", () => {
    const log = new LogAssembler();
    log.accept({ offset: 0, stream: "stdout", data: "abc" });
    expect(log.accept({ offset: 1, stream: "stdout", data: "bcdé" })).toEqual({
      stream: "stdout",
      text: "dé",
      omitted: 0,
    });
    expect(log.next).toBe(6);
  });

  it("reports bytes the log no longer holds", () => {
    const log = new LogAssembler();
    log.accept({ offset: 0, stream: "stdout", data: "head" });
    expect(log.accept({ offset: 104, stream: "stdout", data: "tail" })).toEqual({
      stream: "stdout",
      text: "tail",
      omitted: 100,
    });
  });
});
