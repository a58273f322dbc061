/** A notification's time, for display; the raw value if it is not a date. */
export function formatTime(createdAt: string | number): string {
  const date = new Date(createdAt);
  return Number.isNaN(date.getTime()) ? String(createdAt) : date.toLocaleTimeString();
}
