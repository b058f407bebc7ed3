/**
 * The one-time credentials links that `create` and `rotate` received, kept
 * beside the sign-in (`~/.config/tenantplane/pending-credentials.json`, owner
 * only) until `tenantplane credentials <tenant>` uses them. Keyed by API URL
 * and tenant id, so two platforms never mix.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { credentialsPath, type Env } from './credentials.ts';

type Links = Record<string, string>;

function file(env: Env): string {
  return join(dirname(credentialsPath(env)), 'pending-credentials.json');
}

function read(env: Env): Links {
  try {
    return existsSync(file(env)) ? (JSON.parse(readFileSync(file(env), 'utf8')) as Links) : {};
  } catch {
    return {};
  }
}

function write(env: Env, links: Links): void {
  mkdirSync(dirname(file(env)), { recursive: true, mode: 0o700 });
  writeFileSync(file(env), JSON.stringify(links, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file(env), 0o600);
}

const key = (url: string, tenantId: string) => `${url.replace(/\/+$/, '')} ${tenantId}`;

export function rememberCredentialsLink(env: Env, url: string, tenantId: string, path: string): void {
  write(env, { ...read(env), [key(url, tenantId)]: path });
}

export function readCredentialsLink(env: Env, url: string, tenantId: string): string | undefined {
  return read(env)[key(url, tenantId)];
}

export function forgetCredentialsLink(env: Env, url: string, tenantId: string): void {
  const links = read(env);
  if (!(key(url, tenantId) in links)) return;
  delete links[key(url, tenantId)];
  write(env, links);
}
