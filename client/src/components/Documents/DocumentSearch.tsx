import { type FormEvent, useEffect, useRef, useState } from "react";
import { type SearchMatch, type SearchMode, type SearchResult, searchDocuments } from "../../lib/api";
import { HighlightedSnippet } from "./HighlightedSnippet";

/** How long typing must pause before a search is sent. */
export const SEARCH_DELAY_MS = 250;

type SearchState =
  | { phase: "idle" }
  | { phase: "searching"; query: string }
  | { phase: "done"; query: string; results: SearchResult[] }
  | { phase: "failed"; query: string; error: string };

/** Where in its document a passage is: `page 2 · Methods`. */
export function locationOf(result: Pick<SearchResult, "page" | "section">): string {
  const parts: string[] = [];
  if (result.page !== null && result.page !== undefined) parts.push(`page ${result.page}`);
  if (result.section) parts.push(result.section);
  return parts.join(" · ");
}

/** The choices of the mode selector, in order. */
export const SEARCH_MODES: ReadonlyArray<{ mode: SearchMode; label: string }> = [
  { mode: "hybrid", label: "Words and meaning" },
  { mode: "lexical", label: "Words only" },
  { mode: "semantic", label: "Meaning only" },
];

/** What a result's badge says about why it matched. */
export const MATCH_LABELS: Readonly<Record<SearchMatch, string>> = {
  words: "matched words",
  meaning: "matched meaning",
  both: "matched words and meaning",
};

/**
 * Search over the user's documents, by words, meaning or both (hybrid, the default): searches as the user types (after a short
 * pause) or at once on Enter. A newer search cancels the one in flight, so answers never
 * arrive out of order.
 */
export function DocumentSearch() {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [state, setState] = useState<SearchState>({ phase: "idle" });
  const controller = useRef<AbortController | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const run = (text: string, how: SearchMode = mode) => {
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = null;
    controller.current?.abort();
    const trimmed = text.trim();
    if (!trimmed) {
      controller.current = null;
      setState({ phase: "idle" });
      return;
    }
    const current = new AbortController();
    controller.current = current;
    setState({ phase: "searching", query: trimmed });
    searchDocuments(trimmed, current.signal, how).then(
      (results) => {
        if (controller.current === current) setState({ phase: "done", query: trimmed, results });
      },
      (caught: unknown) => {
        if (controller.current !== current) return;
        setState({ phase: "failed", query: trimmed, error: caught instanceof Error ? caught.message : String(caught) });
      },
    );
  };

  const changed = (text: string) => {
    setQuery(text);
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = setTimeout(() => run(text), SEARCH_DELAY_MS);
  };

  const modeChanged = (next: SearchMode) => {
    setMode(next);
    run(query, next);
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    run(query);
  };

  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
      controller.current?.abort();
      controller.current = null;
    },
    [],
  );

  return (
    <section className="document-search" aria-labelledby="document-search-title">
      <h2 id="document-search-title">Search</h2>
      <form onSubmit={submit}>
        <input
          type="search"
          data-testid="search-input"
          aria-label="Search documents"
          placeholder="Search your documents"
          value={query}
          onChange={(event) => changed(event.target.value)}
        />
        <select
          aria-label="Search mode"
          data-testid="search-mode"
          value={mode}
          onChange={(event) => modeChanged(event.target.value as SearchMode)}
        >
          {SEARCH_MODES.map((choice) => (
            <option key={choice.mode} value={choice.mode}>
              {choice.label}
            </option>
          ))}
        </select>
      </form>
      {state.phase === "searching" && (
        <p className="muted" role="status">
          Searching…
        </p>
      )}
      {state.phase === "failed" && (
        <p role="alert" className="error" data-testid="search-error">
          Search failed: {state.error}
        </p>
      )}
      {state.phase === "done" && (
        <div data-testid="search-results" className="search-results">
          {state.results.length === 0 ? (
            <p className="muted" role="status">
              Nothing matches “{state.query}”.
            </p>
          ) : (
            <ol className="search-results__list" aria-label={`Results for ${state.query}`}>
              {state.results.map((result) => (
                <li
                  key={`${result.documentId}:${result.chunkIndex}`}
                  className="search-result"
                  data-testid="search-result"
                  data-document-id={result.documentId}
                >
                  <div className="search-result__head">
                    <span className="search-result__filename">{result.filename}</span>
                    {locationOf(result) && <span className="search-result__where muted">{locationOf(result)}</span>}
                    <span
                      className={`search-result__match search-result__match--${result.matched}`}
                      data-testid="search-match"
                    >
                      {MATCH_LABELS[result.matched]}
                    </span>
                  </div>
                  <HighlightedSnippet snippet={result.snippet} highlights={result.highlights} />
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}
