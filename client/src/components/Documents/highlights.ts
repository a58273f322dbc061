/** Split a search snippet into plain and highlighted pieces. */

/** A piece of a snippet; `marked` pieces matched the query. */
export interface SnippetPart {
  text: string;
  marked: boolean;
  /** Where the part starts in the snippet, in code points (unique, so usable as a key). */
  start: number;
}

/**
 * Cut `text` at the `[start, end)` ranges in `highlights`.
 *
 * Offsets count Unicode code points, as Python's `str` does (the server is Python), so an emoji
 * before a match does not shift it. Ranges are sorted, clamped to the text, and merged when they
 * overlap or touch; empty and malformed ones are ignored. The result is text only: the caller
 * renders it as React children, so a snippet containing `<b>` stays literal.
 */
export function splitHighlights(text: string, highlights: ReadonlyArray<readonly [number, number]>): SnippetPart[] {
  const chars = Array.from(text);
  const length = chars.length;
  const ranges = highlights
    .filter((range) => Array.isArray(range) && Number.isInteger(range[0]) && Number.isInteger(range[1]))
    .map(([start, end]) => [Math.max(0, Math.min(length, start)), Math.max(0, Math.min(length, end))] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);

  const merged: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }

  const parts: SnippetPart[] = [];
  let at = 0;
  for (const [start, end] of merged) {
    if (start > at) parts.push({ text: chars.slice(at, start).join(""), marked: false, start: at });
    parts.push({ text: chars.slice(start, end).join(""), marked: true, start });
    at = end;
  }
  if (at < length) parts.push({ text: chars.slice(at).join(""), marked: false, start: at });
  return parts;
}
