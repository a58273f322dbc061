/**
 * Merging an install's output from REST and from live frames into one exact byte sequence.
 *
 * Both sources carry each chunk's byte offset in the install's log. The assembler remembers
 * where the text it has handed out ends (`next`): a chunk wholly before it is a duplicate and
 * is dropped, one that overlaps it is cut to its new part, and one that starts after it means
 * the server dropped stored output there (its bounded log) and is announced as a gap.
 */

import type { LogChunk } from "../../lib/mcp";

/** What to do with a chunk: write its text, maybe after announcing skipped bytes. */
export interface Piece {
  stream: LogChunk["stream"];
  text: string;
  /** Bytes the log no longer holds before this piece (0 when contiguous). */
  omitted: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class LogAssembler {
  /** The offset of the first byte not handed out yet. */
  next = 0;

  /** The part of `chunk` not seen before, or null when it is all a duplicate. */
  accept(chunk: LogChunk): Piece | null {
    const bytes = encoder.encode(chunk.data);
    const end = chunk.offset + bytes.length;
    if (end <= this.next) return null;
    if (chunk.offset >= this.next) {
      const omitted = chunk.offset - this.next;
      this.next = end;
      return { stream: chunk.stream, text: chunk.data, omitted };
    }
    // Overlap: keep the bytes from `next` on (offsets always fall on character boundaries).
    const text = decoder.decode(bytes.subarray(this.next - chunk.offset));
    this.next = end;
    return { stream: chunk.stream, text, omitted: 0 };
  }
}
