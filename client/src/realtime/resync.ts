/** Who to call when a stream's state must be refetched over REST. */

/** Called with the stream's name (`user:7`). */
export type ResyncHandler = (stream: string) => void;

/** True if `key` names `stream` or a prefix of it ending before a colon. */
export function matchesStream(key: string, stream: string): boolean {
  return stream === key || stream.startsWith(`${key}:`);
}

/** Resync handlers by stream name or prefix (`user`, `topic:document`, `all`). */
export class ResyncHandlers {
  private readonly handlers = new Map<string, Set<ResyncHandler>>();

  /** Register `handler` for `key`; returns its removal. */
  add(key: string, handler: ResyncHandler): () => void {
    let set = this.handlers.get(key);
    if (!set) {
      set = new Set();
      this.handlers.set(key, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  /** Call every handler whose key matches `stream`; one that throws does not stop the others. */
  run(stream: string): void {
    for (const [key, set] of this.handlers) {
      if (!matchesStream(key, stream)) continue;
      for (const handler of [...set]) {
        try {
          handler(stream);
        } catch (error) {
          setTimeout(() => {
            throw error;
          }, 0);
        }
      }
    }
  }
}
