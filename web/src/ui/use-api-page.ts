import { type Dispatch, type SetStateAction, useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';

/**
 * One page of a list endpoint, fetched again whenever `url` changes; an answer
 * that arrives after the view moved on is dropped. `setData` edits the page in
 * place (after a change made from it). `loading` holds from the very render
 * whose `url` changed until its answer (or error) arrives: the page shown
 * meanwhile, and its next-page token, are the previous view's.
 */
export function useApiPage<T>(url: string): {
  data: T | null;
  setData: Dispatch<SetStateAction<T | null>>;
  loading: boolean;
  error: string;
} {
  const [data, setData] = useState<T | null>(null);
  const [answered, setAnswered] = useState<string | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    let current = true;
    setError('');
    api<T>(url).then(
      (r) => current && (setData(r), setAnswered(url)),
      (err) => current && (setError(describeError(err)), setAnswered(url)),
    );
    return () => {
      current = false;
    };
  }, [url]);
  return { data, setData, loading: answered !== url, error };
}
