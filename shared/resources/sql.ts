/**
 * The SQL half of a tenant database, shared by the local PostgreSQL driver
 * and the Cloud SQL driver: one role per environment that can log in to its
 * own database and nowhere else, a seed run as that role (never as the
 * platform), and password changes that end the sessions of the old one.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { databaseName, stagingDatabaseName } from './names.ts';
import type { DatabaseAccess, ResourceRef } from './types.ts';

/** Sample data a demo environment starts with (`seed: "sample"`). */
export const SAMPLE_SEED = `
CREATE TABLE sample_customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE sample_orders (id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES sample_customers(id), total_cents integer NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO sample_customers (name, email) VALUES ('Ada Lovelace', 'ada@example.com'), ('Grace Hopper', 'grace@example.com'), ('Alan Turing', 'alan@example.com');
INSERT INTO sample_orders (customer_id, total_cents) VALUES (1, 4200), (1, 1999), (2, 12500), (3, 800);
`;

/** The SQL a seed setting stands for: `sample`, `none` (or empty) for nothing, else the SQL itself. */
export function seedSql(seed: string | undefined): string | undefined {
  if (!seed || seed === 'none') return undefined;
  return seed === 'sample' ? SAMPLE_SEED : seed;
}

export const newPassword = () => randomBytes(24).toString('base64url');

/** Opens a connection with `pg`, loaded on first use so functions that never touch a database do not pay for it. */
export async function connect(url: string): Promise<Client> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  // A dropped connection must fail the query that uses it, not the process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Runs `fn` on a fresh connection and closes it. */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Connections to one server kept open between uses (issue 19: each launch's
 * database step opened one, and the SCRAM handshake costs both sides CPU); an
 * idle one closes after a few seconds and never keeps the process alive. A
 * connection whose use failed is closed, not reused.
 */
export function createClientPool(url: string, max = 8) {
  let pool: Promise<import('pg').Pool> | undefined;
  const open = () =>
    (pool ??= import('pg').then(({ default: pg }) => {
      const created = new pg.Pool({
        connectionString: url,
        max,
        idleTimeoutMillis: 5_000,
        allowExitOnIdle: true,
        connectionTimeoutMillis: 15_000,
      });
      // A server that goes away fails the next use, not the process.
      created.on('error', () => undefined);
      return created;
    }));
  return {
    async use<T>(fn: (client: Client) => Promise<T>): Promise<T> {
      const client = await (await open()).connect();
      let failed = false;
      try {
        return await fn(client as unknown as Client);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        client.release(failed);
      }
    },
    async end(): Promise<void> {
      const current = pool;
      pool = undefined;
      if (current) await (await current).end();
    },
  };
}

/** `url` with another user, password and database: how an environment reaches its own database on the same server. */
export function urlFor(serverUrl: string, role: string, password: string, database: string, host?: string): string {
  const url = new URL(serverUrl);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  if (host) url.hostname = host;
  url.search = '';
  return url.toString();
}

/** `name` as a quoted SQL identifier. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The statements that close `database` to everyone but `role`, which may connect and make temporary tables. */
export const closedTo = (database: string, role: string) =>
  `REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`;

/** The server-wide part: nobody but the platform connects to the maintenance databases (each tenant database revokes its own). */
export async function lockDownServer(admin: Client): Promise<void> {
  for (const db of ['postgres', 'template1']) await changeGrants(admin, `REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC`);
}

/**
 * Runs a GRANT or REVOKE on a shared object (a database, a role membership).
 * Many control planes may start on one server at once, and PostgreSQL refuses
 * the second of two concurrent changes of one catalog row ("tuple concurrently
 * updated"): that refusal is tried again, a little later each time.
 */
export async function changeGrants(admin: Client, sql: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.query(sql);
      return;
    } catch (error) {
      if (attempt >= 5 || !/concurrently updated/.test((error as Error).message)) throw error;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

/** Creates the environment's role, or sets its password when it exists. */
export async function ensureRole(admin: Client, role: string, password: string): Promise<void> {
  const exists = (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount! > 0;
  await admin.query(roleStatement(admin, role, password, exists));
}

/** CREATE ROLE (or ALTER ROLE when it `exists`) giving an environment's role its only rights and `password`. */
export function roleStatement(admin: Client, role: string, password: string, exists: boolean): string {
  const verb = exists ? 'ALTER' : 'CREATE';
  return `${verb} ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 50 PASSWORD ${admin.escapeLiteral(password)}`;
}

/**
 * Makes database `name` owned by `owner`, then runs `setup` (statements
 * without parameters, for the new database): a pool runs them in one round
 * trip with its claim.
 */
export type CreateDatabase = (name: string, owner: string, setup: string) => Promise<void>;

/**
 * Builds the database under a staging name, owned by the role and closed to
 * everyone else, runs the seed as the role, then renames it into place: a
 * crash before the rename leaves only a staging copy that the next attempt
 * drops, never a half-seeded database. `stagingExists: false` (the caller
 * just looked) skips dropping a staging copy.
 */
export async function createSeededDatabase(
  admin: Client,
  ref: ResourceRef,
  access: { serverUrl: string; password: string; seed?: string; stagingExists?: boolean },
  create: CreateDatabase = async (name, owner, setup) => {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)}`);
    await admin.query(setup);
  },
): Promise<void> {
  const name = databaseName(ref);
  const staging = stagingDatabaseName(ref);
  if (access.stagingExists !== false) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(staging)} WITH (FORCE)`);
  const grants = closedTo(staging, name);
  const rename = `ALTER DATABASE ${quoteIdent(staging)} RENAME TO ${quoteIdent(name)}`;
  const sql = seedSql(access.seed);
  // Without a seed nothing runs between the grants and the rename: they go in one round trip, one transaction.
  await create(staging, name, sql ? grants : `${grants}; ${rename}`);
  if (!sql) return;
  await withClient(urlFor(access.serverUrl, name, access.password, staging), (client) => client.query(sql));
  await admin.query(rename);
}

/**
 * Claims a database already seeded with `seed`, and its role, as `name` with
 * `password` (pool.ts); false when there is none.
 */
export type ClaimSeeded = (name: string, password: string, seed: string) => Promise<boolean>;

/** Role (fresh password) and seeded database, made if missing; a new seeded one is claimed when `claimSeeded` has one. */
export async function ensureTenantDatabase(
  admin: Client,
  ref: ResourceRef,
  server: { url: string; tenantHost?: string; seed?: string },
  create?: CreateDatabase,
  claimSeeded?: ClaimSeeded,
): Promise<DatabaseAccess> {
  const name = databaseName(ref);
  const password = newPassword();
  const access = { database: name, role: name, url: urlFor(server.url, name, password, name, server.tenantHost) };
  const seed = seedSql(server.seed);
  // A role made before the claim would be in its way: with a seeded one to claim, a missing role is made only if none is.
  const mayClaim = seed !== undefined && claimSeeded !== undefined;
  // The role made or given its new password, and what exists, in one round trip (a launch's database step waits
  // for each); a DO block chooses CREATE or ALTER. Role names and base64url passwords need no dollar quoting.
  const results = (await admin.query(
    `DO $tp$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${admin.escapeLiteral(name)}) THEN ${roleStatement(admin, name, password, true)};${mayClaim ? '' : ` ELSE ${roleStatement(admin, name, password, false)};`} END IF; END $tp$;
     SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${admin.escapeLiteral(name)}) AS role,
            EXISTS (SELECT 1 FROM pg_database WHERE datname = ${admin.escapeLiteral(name)}) AS db,
            EXISTS (SELECT 1 FROM pg_database WHERE datname = ${admin.escapeLiteral(stagingDatabaseName(ref))}) AS staging`,
  )) as unknown as Array<{ rows: Array<{ role: boolean; db: boolean; staging: boolean }> }>;
  const found = results[1].rows[0];
  if (found.db) return access;
  if (!found.role) {
    if (await claimSeeded!(name, password, seed!)) return access;
    await admin.query(roleStatement(admin, name, password, false));
  }
  await createSeededDatabase(admin, ref, { serverUrl: server.url, password, seed: server.seed, stagingExists: found.staging }, create);
  return access;
}

/** A new password, and the end of every session the role had open. */
export async function rotatePassword(
  admin: Client,
  ref: ResourceRef,
  server: { url: string; tenantHost?: string },
): Promise<DatabaseAccess> {
  const name = databaseName(ref);
  const password = newPassword();
  if ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 0)
    throw new Error(`the role of ${ref.tenantId}/${ref.env} does not exist; provision the environment first`);
  await ensureRole(admin, name, password);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [name]);
  return { database: name, role: name, url: urlFor(server.url, name, password, name, server.tenantHost) };
}

export async function dropTenantDatabase(admin: Client, ref: ResourceRef): Promise<void> {
  for (const db of [databaseName(ref), stagingDatabaseName(ref)])
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)} WITH (FORCE)`);
}

export async function dropTenantRole(admin: Client, ref: ResourceRef): Promise<void> {
  await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(databaseName(ref))}`);
}
