/**
 * Merging an answer's text from what REST gave and what the socket sends, by offset.
 *
 * Offsets count UTF-16 units, as `string.length` does. A chunk may repeat text already held
 * (it was sent between the subscribe and the REST read, or replayed after a resume): the part
 * already held is dropped. A chunk that starts past the end is a gap: the caller re-reads.
 */

/** The result of applying one chunk. */
export type Merge = { kind: "appended"; text: string } | { kind: "duplicate" } | { kind: "gap" };

export function mergeChunk(text: string, offset: number, delta: string): Merge {
  if (offset > text.length) return { kind: "gap" };
  if (offset + delta.length <= text.length) return { kind: "duplicate" };
  return { kind: "appended", text: text.slice(0, offset) + delta };
}

/** A piece of an answer to render: text, or a citation marker `[n]`. */
export type AnswerPart = { kind: "text"; text: string } | { kind: "cite"; n: number };

/** Split `text` into text and `[n]` markers; markers whose `n` is not in `cited` stay text. */
export function splitCitations(text: string, cited: ReadonlySet<number>): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d{1,3})\]/g)) {
    const n = Number(match[1]);
    if (!cited.has(n)) continue;
    const at = match.index ?? 0;
    if (at > last) parts.push({ kind: "text", text: text.slice(last, at) });
    parts.push({ kind: "cite", n });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}
