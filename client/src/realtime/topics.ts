/**
 * Counted topic subscriptions: several components may follow one topic, and the server is
 * told to leave it only when the last of them stops.
 */
export class TopicCounter {
  private readonly counts = new Map<string, number>();

  /** Count one more subscriber; true when it is the first (the topic must be joined). */
  join(topic: string): boolean {
    const count = this.counts.get(topic) ?? 0;
    this.counts.set(topic, count + 1);
    return count === 0;
  }

  /** Count one subscriber less; true when it was the last (the topic must be left). */
  leave(topic: string): boolean {
    const left = (this.counts.get(topic) ?? 1) - 1;
    if (left > 0) {
      this.counts.set(topic, left);
      return false;
    }
    this.counts.delete(topic);
    return true;
  }

  /** The topics with at least one subscriber. */
  get names(): string[] {
    return [...this.counts.keys()];
  }
}
