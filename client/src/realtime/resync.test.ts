// @vitest-environment node
import { describe, expect, it } from "vitest";
import { matchesStream, ResyncHandlers } from "./resync";

describe("matchesStream", () => {
  it.each([
    ["user:7", "user:7", true],
    ["user", "user:7", true],
    ["topic:document", "topic:document:d_12", true],
    ["topic", "topic:admin:connections", true],
    ["user", "users:7", false],
    ["user:7", "user:70", false],
    ["all", "all", true],
  ])("%s matches %s: %s", (key, stream, expected) => {
    expect(matchesStream(key, stream)).toBe(expected);
  });
});

describe("ResyncHandlers", () => {
  it("calls the matching handlers until they are removed", () => {
    const handlers = new ResyncHandlers();
    const calls: string[] = [];
    const remove = handlers.add("user", (s) => calls.push(`user ${s}`));
    handlers.add("all", (s) => calls.push(`all ${s}`));
    handlers.run("user:7");
    remove();
    handlers.run("user:7");
    handlers.run("all");
    expect(calls).toEqual(["user user:7", "all all"]);
  });
});
