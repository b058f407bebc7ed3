/**
 * The portal's tables: a captioned table with sortable column headers (buttons
 * inside the headers, `aria-sort` on the sorted one), a count, and paging
 * controls; the data comes a page at a time from the server.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button, Spinner } from './controls.tsx';

export interface Column<T> {
  key: string;
  label: string;
  /** The API's sort key for this column (`name` sorts ascending, `-name` descending). */
  sort?: string;
  /** Hidden below the `sm` width (the first column then repeats what matters). */
  wide?: boolean;
  cell: (row: T) => ReactNode;
}

export function DataTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  sort,
  onSort,
  total,
  loading,
  empty,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[] | null;
  rowKey: (row: T) => string;
  sort: string;
  onSort: (sort: string) => void;
  total?: number;
  loading: boolean;
  empty: string;
}) {
  const captionId = useId();
  return (
    <div className="mt-3">
      {/* Focusable, so a table wider than a phone scrolls sideways by keyboard too. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (axe: scrollable-region-focusable) */}
      <section className="overflow-x-auto" tabIndex={0} aria-label={`${caption} table`}>
        <table className="w-full text-left text-sm" aria-describedby={captionId} aria-busy={loading || undefined}>
          <caption className="sr-only">{caption}</caption>
          <thead className="text-xs uppercase text-slate-600">
            <tr>
              {columns.map((c) => {
                const by = sort.replace(/^-/, '');
                const sorted = c.sort !== undefined && c.sort === by;
                const descending = sorted && sort.startsWith('-');
                return (
                  <th
                    key={c.key}
                    scope="col"
                    className={`py-2 pr-3 font-medium ${c.wide ? 'hidden sm:table-cell' : ''}`}
                    aria-sort={sorted ? (descending ? 'descending' : 'ascending') : undefined}
                  >
                    {c.sort ? (
                      <button
                        type="button"
                        className="inline-flex items-center gap-1 rounded uppercase hover:text-slate-900"
                        onClick={() => onSort(sorted && !descending ? `-${c.sort}` : (c.sort as string))}
                        aria-label={`Sort by ${c.label}${sorted ? (descending ? ', now descending' : ', now ascending') : ''}`}
                      >
                        {c.label}
                        <span aria-hidden="true">{sorted ? (descending ? '▼' : '▲') : '↕'}</span>
                      </button>
                    ) : (
                      c.label
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {rows?.map((row) => (
              <tr key={rowKey(row)} className="align-top">
                {columns.map((c) => (
                  <td key={c.key} className={`py-2 pr-3 ${c.wide ? 'hidden sm:table-cell' : ''}`}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <p id={captionId} className="mt-2 text-sm text-slate-600" aria-live="polite">
        {loading ? (
          <Spinner label="Loading…" />
        ) : rows?.length === 0 ? (
          empty
        ) : total !== undefined ? (
          `${total.toLocaleString()} in all`
        ) : (
          ''
        )}
      </p>
    </div>
  );
}

/**
 * First / Previous / Next over the server's page tokens. The current token
 * lives in the URL (`page`); the tokens of earlier pages are remembered while
 * the page is open, so Previous works until a reload (First always does).
 * Callers pass no `next` while a new view loads: the token shown until then
 * belongs to the view before (another sort or filter).
 */
export function Pager({ page, next, onPage, label }: { page: string; next?: string; onPage: (token: string) => void; label: string }) {
  const history = useRef<string[]>([]);
  const [, rerender] = useState(0);
  useEffect(() => {
    // A view reached otherwise (a new search, Back) starts a fresh trail.
    if (!page) history.current = [];
    rerender((n) => n + 1);
  }, [page]);
  const go = (token: string, back: boolean) => {
    if (back) history.current.pop();
    else history.current.push(page);
    onPage(token);
  };
  const previous = history.current.at(-1);
  return (
    <nav aria-label={`${label} pages`} className="mt-3 flex flex-wrap gap-2">
      <Button small variant="secondary" disabled={!page} onClick={() => go('', false)}>
        First page
      </Button>
      <Button small variant="secondary" disabled={previous === undefined || !page} onClick={() => go(previous ?? '', true)}>
        Previous page
      </Button>
      <Button small variant="secondary" disabled={!next} onClick={() => next && go(next, false)}>
        Next page
      </Button>
    </nav>
  );
}

/** A search box that updates its view after a short pause in typing, or at once on Enter. */
export function SearchBox({
  label,
  value,
  onSearch,
  placeholder,
}: {
  label: string;
  value: string;
  onSearch: (q: string) => void;
  placeholder?: string;
}) {
  const id = useId();
  const [text, setText] = useState(value);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => setText(value), [value]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return (
    <form
      className="min-w-48 flex-1"
      onSubmit={(e) => {
        e.preventDefault();
        clearTimeout(timer.current);
        onSearch(text.trim());
      }}
    >
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        id={id}
        type="search"
        className="input"
        value={text}
        placeholder={placeholder}
        onChange={(e) => {
          const q = e.target.value;
          setText(q);
          clearTimeout(timer.current);
          timer.current = setTimeout(() => onSearch(q.trim()), 400);
        }}
      />
    </form>
  );
}

/** A labelled filter select; the first option ("All") means no filter. */
export function FilterSelect({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}) {
  const id = useId();
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <select id={id} className="input w-auto" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </div>
  );
}
