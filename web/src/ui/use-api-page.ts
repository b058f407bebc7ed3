import { type Dispatch, type SetStateAction, useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import { describeError } from '../lib/errors.ts';

/**
 * One page of a list endpoint, fetched again whenever `url` changes; an answer
 * that arrives after the view moved on is dropped. `setData` edits the page in
 * place (after a change made from it).
 */
export function useApiPage<T>(url: string): {
  data: T | null;
  setData: Dispatch<SetStateAction<T | null>>;
  loading: boolean;
  error: string;
} {
  const [data, setData] = useState<T | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState('');
  useEffect(() => {
    let current = true;
    setLoading(true);
    setError('');
    api<T>(url).then(
      (r) => current && (setData(r), setLoading(false)),
      (err) => current && (setError(describeError(err)), setLoading(false)),
    );
    return () => {
      current = false;
    };
  }, [url]);
  return { data, setData, loading, error };
}
