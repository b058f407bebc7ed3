/**
 * A view's state kept in the page's URL (search, filters, sort, page, tab), so
 * a reload or a shared link shows the same view and Back goes to the previous one.
 */
import { useCallback, useEffect, useState } from 'react';

export type UrlState = Record<string, string>;

const read = (): UrlState => Object.fromEntries(new URLSearchParams(window.location.search));

/** The URL's query as an object, and a setter that merges changes (empty values are dropped). */
export function useUrlState(): [UrlState, (changes: UrlState, options?: { replace?: boolean }) => void] {
  const [state, setState] = useState<UrlState>(read);
  useEffect(() => {
    const onPop = () => setState(read());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const update = useCallback((changes: UrlState, options: { replace?: boolean } = {}) => {
    const next = { ...read(), ...changes };
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(next)) if (value) params.set(key, value);
    const url = `${window.location.pathname}${params.size ? `?${params}` : ''}`;
    if (url !== `${window.location.pathname}${window.location.search}`) {
      if (options.replace) window.history.replaceState(null, '', url);
      else window.history.pushState(null, '', url);
    }
    setState(Object.fromEntries(params));
  }, []);
  return [state, update];
}
