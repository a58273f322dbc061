/** A minimal typed event emitter: `on(name, listener)` returns the function that removes it. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  /** Call `listener` with every value emitted under `name`; returns its removal. */
  on<K extends keyof Events>(name: K, listener: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Call every listener of `name`; one that throws is reported and does not stop the others. */
  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of [...set] as Array<(value: Events[K]) => void>) {
      try {
        listener(value);
      } catch (error) {
        reportError(error);
      }
    }
  }
}

function reportError(error: unknown): void {
  // Re-throw outside this call stack so the error reaches window.onerror and the console
  // without breaking the emitter's loop.
  setTimeout(() => {
    throw error;
  }, 0);
}
