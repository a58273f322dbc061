import { Fragment } from "react";
import { splitHighlights } from "./highlights";

/** A snippet as text, with the matched ranges in `<mark>`; never parsed as HTML. */
export function HighlightedSnippet({
  snippet,
  highlights,
}: {
  snippet: string;
  highlights: ReadonlyArray<readonly [number, number]>;
}) {
  return (
    <p className="search-result__snippet" data-testid="search-snippet">
      {splitHighlights(snippet, highlights).map((part) =>
        part.marked ? <mark key={part.start}>{part.text}</mark> : <Fragment key={part.start}>{part.text}</Fragment>,
      )}
    </p>
  );
}
