/**
 * The admin tables' queries (users, tenants): a validated set of query
 * parameters (search, filters, sort, page) turned into one Firestore query,
 * paged with opaque tokens and counted with an aggregation query, so a table
 * over 10,000 documents reads one page and one count per view.
 *
 * Search is a prefix match on a lowercased field (`>= q`, `< q + '\uf8ff'`);
 * Firestore allows a range only on the first sort field, so a search always
 * sorts by that field. Equality filters combine with any sort through the
 * composite indexes declared in firestore.indexes.json (one per filter and
 * sort field; Firestore merges them for several filters).
 */
import type { Firestore, Query } from '@google-cloud/firestore';
import { firestore } from './firestore-lib.ts';
import { AppError } from '../errors.ts';

export interface SortSpec {
  /** The value of `sort=` (`name` or `-name` for descending). */
  key: string;
  field: string;
  direction: 'asc' | 'desc';
}

/** `sort` values for these fields: `field` ascending, `-field` descending. */
export function sortsFor(fields: Record<string, string>): SortSpec[] {
  return Object.entries(fields).flatMap(([key, field]) => [
    { key, field, direction: 'asc' as const },
    { key: `-${key}`, field, direction: 'desc' as const },
  ]);
}

const invalid = (field: string, message: string) => new AppError('validation_failed', `${field} ${message}`, { field });

/** One optional enum parameter: absent → undefined; anything else than the values → 400 naming it. */
export function enumParam<T extends string>(params: URLSearchParams, name: string, values: readonly T[]): T | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!values.includes(raw as T)) throw invalid(name, `must be one of ${values.join(', ')}.`);
  return raw as T;
}

/** A free-text parameter of at most `max` characters, trimmed (empty → undefined). */
export function textParam(params: URLSearchParams, name: string, max: number): string | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = raw.trim();
  if (value.length > max) throw invalid(name, `must be at most ${max} characters.`);
  // Control characters are nobody's name or address.
  if (/\p{Cc}/u.test(value)) throw invalid(name, 'must not contain control characters.');
  return value || undefined;
}

export function pageSizeParam(params: URLSearchParams, max: number, fallback: number): number {
  const raw = params.get('pageSize');
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw invalid('pageSize', `must be a number from 1 to ${max}.`);
  return Number(raw);
}

export interface TableQuery {
  /** Prefix search on `searchField` (lowercased by the caller when the field is). */
  search?: string;
  searchField: string;
  /** The `sort` key of the search field (what a search sorts by). */
  searchSortKey: string;
  filters: Record<string, string | string[] | undefined>;
  sort: SortSpec;
  pageSize: number;
  pageToken?: string;
  /** Whether a page token's document id can name a document of this table. */
  validId: (id: string) => boolean;
}

export interface TablePage<T> {
  items: T[];
  /** How many match the search and filters (all pages). */
  total: number;
  nextPageToken?: string;
}

/** The query without paging: filters, search, and the sort (then the document id, so the order is total). */
export function buildQuery(base: Query, q: TableQuery): { query: Query; sort: SortSpec } {
  let query = base;
  for (const [field, value] of Object.entries(q.filters)) {
    if (value === undefined) continue;
    query = Array.isArray(value) ? query.where(field, 'in', value) : query.where(field, '==', value);
  }
  let sort = q.sort;
  if (q.search !== undefined) {
    query = query.where(q.searchField, '>=', q.search).where(q.searchField, '<', `${q.search}\uf8ff`);
    // A range needs its field as the first sort: a search sorts by it, ascending unless asked the other way.
    if (sort.field !== q.searchField) sort = { key: q.searchSortKey, field: q.searchField, direction: 'asc' };
  }
  query = query.orderBy(sort.field, sort.direction).orderBy(firestore().FieldPath.documentId(), sort.direction);
  return { query, sort };
}

/** One page and the total count, read in parallel. */
export async function readTablePage<T>(
  base: Query,
  q: TableQuery,
  map: (data: Record<string, unknown>, id: string) => T,
): Promise<TablePage<T>> {
  const { query, sort } = buildQuery(base, q);
  let paged = query;
  if (q.pageToken) {
    const [field, value, id] = decodeTableToken(q.pageToken);
    if (!q.validId(id)) throw invalid('pageToken', 'is not valid: pass the nextPageToken of the previous page unchanged.');
    if (field !== sort.key) throw invalid('pageToken', 'belongs to another sort order; start again from the first page.');
    paged = paged.startAfter(value, id);
  }
  const [snap, count] = await Promise.all([paged.limit(q.pageSize + 1).get(), query.count().get()]);
  const docs = snap.docs.slice(0, q.pageSize);
  const last = docs.at(-1);
  return {
    items: docs.map((d) => map(d.data(), d.id)),
    total: count.data().count,
    nextPageToken:
      snap.docs.length > q.pageSize && last
        ? encodeTableToken(sort.key, (last.get(sort.field) as string | number | null) ?? null, last.id)
        : undefined,
  };
}

export function encodeTableToken(sortKey: string, value: string | number | null, id: string): string {
  return Buffer.from(JSON.stringify([sortKey, value, id])).toString('base64url');
}

function decodeTableToken(token: string): [string, string | number | null, string] {
  try {
    if (token.length <= 2000) {
      const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      if (
        Array.isArray(value) &&
        value.length === 3 &&
        typeof value[0] === 'string' &&
        ['string', 'number'].includes(typeof value[1]) !== (value[1] === null) &&
        typeof value[2] === 'string' &&
        value[2].length > 0 &&
        !value[2].includes('/')
      ) {
        return value as [string, string | number | null, string];
      }
    }
  } catch {
    // fall through
  }
  throw invalid('pageToken', 'is not valid: pass the nextPageToken of the previous page unchanged.');
}

/** The document `collection/id` when `id` names one (for an exact id match next to the prefix search). */
export async function readExact(db: Firestore, collection: string, id: string): Promise<Record<string, unknown> | undefined> {
  if (!id || id.includes('/') || id === '.' || id === '..' || /^__.*__$/.test(id) || id.length > 1500) return undefined;
  const snap = await db.collection(collection).doc(id).get();
  return snap.exists ? snap.data() : undefined;
}
