/**
 * The header's search box: a form with role="search" that opens the search page for its text.
 * `/` focuses it from anywhere but a text field, as on most sites people know.
 */
import { useEffect, useRef, useState } from 'react';
import { useLocation, useSearch } from 'wouter';

export function SearchBox() {
  const [location, navigate] = useLocation();
  const search = useSearch();
  const onSearchPage = location === '/search';
  const [text, setText] = useState(() => (onSearchPage ? (new URLSearchParams(search).get('q') ?? '') : ''));
  const input = useRef<HTMLInputElement>(null);

  // The page's query is the box's text when arriving by a link or going back.
  useEffect(() => {
    if (onSearchPage) setText(new URLSearchParams(search).get('q') ?? '');
  }, [onSearchPage, search]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      event.preventDefault();
      input.current?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <form
      role="search"
      className="search-box"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(`/search?q=${encodeURIComponent(text.trim())}`);
      }}
    >
      <input
        ref={input}
        type="search"
        name="q"
        aria-label="Search runs, deploys, incidents, events and logs"
        placeholder="Search (commit:, release:, by:, type:…)  /"
        value={text}
        onChange={(event) => setText(event.target.value)}
      />
    </form>
  );
}
