// @vitest-environment node
import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "./backoff";

describe("backoffCeiling", () => {
  it("doubles from 0.5 s and stops at the 30 s cap", () => {
    const ceilings = Array.from({ length: 10 }, (_, attempt) => backoffCeiling(attempt, DEFAULT_BACKOFF));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it("stays finite for huge attempt numbers", () => {
    expect(backoffCeiling(10_000, DEFAULT_BACKOFF)).toBe(30_000);
  });

  it("is never below the floor", () => {
    expect(backoffCeiling(0, { ...DEFAULT_BACKOFF, floorMs: 10_000 })).toBe(10_000);
  });
});

describe("backoffDelay", () => {
  it("is the ceiling scaled by the random draw (full jitter)", () => {
    expect(backoffDelay(0, { ...DEFAULT_BACKOFF, random: () => 0 })).toBe(0);
    expect(backoffDelay(0, { ...DEFAULT_BACKOFF, random: () => 0.5 })).toBe(250);
    expect(backoffDelay(3, { ...DEFAULT_BACKOFF, random: () => 0.5 })).toBe(2000);
    expect(backoffDelay(20, { ...DEFAULT_BACKOFF, random: () => 0.999 })).toBe(29970);
  });

  it("draws between the floor and the ceiling when a floor is set", () => {
    const options = { ...DEFAULT_BACKOFF, floorMs: 10_000 };
    expect(backoffDelay(0, { ...options, random: () => 0 })).toBe(10_000);
    expect(backoffDelay(0, { ...options, random: () => 0.999 })).toBe(10_000);
    expect(backoffDelay(6, { ...options, random: () => 0.5 })).toBe(20_000);
  });

  it("stays within [0, ceiling) for random draws", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const delay = backoffDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(backoffCeiling(attempt, DEFAULT_BACKOFF));
    }
  });
});
