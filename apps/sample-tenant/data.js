// @ts-check
/**
 * The sample tenant's use of its environment's own data (issue 21): a visit
 * counter in its PostgreSQL database (`DATABASE_URL`) and files in its bucket
 * (`BUCKET_NAME`; locally through the storage emulator at
 * `STORAGE_EMULATOR_HOST` with `STORAGE_ACCESS_TOKEN`). The clients (`pg`,
 * `@google-cloud/storage`) load on first use, so the plain server stays
 * dependency-free; where they or the variables are missing, the routes say so.
 *
 *   POST /data/visits        counts a visit in the database, answers {visits}
 *   GET  /data/visits        {visits}
 *   PUT  /data/files/<name>  stores the body in the bucket (≤ 1 MiB)
 *   GET  /data/files/<name>  the stored bytes
 */
const env = process.env;

/** @type {Promise<any> | undefined} */
let pool;
/** @type {Promise<any> | undefined} */
let bucket;

function database() {
  if (!env.DATABASE_URL?.startsWith('postgres'))
    throw Object.assign(new Error('this environment has no PostgreSQL DATABASE_URL'), { status: 501 });
  pool ??= import('pg').then(async ({ default: pg }) => {
    const created = new pg.Pool({ connectionString: env.DATABASE_URL, max: 3 });
    created.on('error', () => undefined);
    await created.query('CREATE TABLE IF NOT EXISTS app_visits (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    return created;
  });
  return pool.catch((error) => {
    pool = undefined;
    throw error;
  });
}

function storage() {
  if (!env.BUCKET_NAME) throw Object.assign(new Error('this environment has no BUCKET_NAME'), { status: 501 });
  bucket ??= import('@google-cloud/storage').then(({ Storage }) => {
    const client = new Storage(env.STORAGE_EMULATOR_HOST ? { apiEndpoint: env.STORAGE_EMULATOR_HOST } : {});
    const token = env.STORAGE_ACCESS_TOKEN;
    // With a custom endpoint the client sends no credentials of its own: the emulator token goes in through an interceptor.
    if (token)
      client.interceptors.push({
        request: (/** @type {any} */ opts) => ({ ...opts, headers: { ...opts.headers, Authorization: `Bearer ${token}` } }),
      });
    return client.bucket(/** @type {string} */ (env.BUCKET_NAME));
  });
  return bucket;
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} path
 * @param {(res: import('node:http').ServerResponse, status: number, body: unknown) => void} sendJson
 */
export async function handleData(req, res, path, sendJson) {
  try {
    if (path === '/data/visits') {
      const db = await database();
      if (req.method === 'POST') await db.query('INSERT INTO app_visits DEFAULT VALUES');
      const { rows } = await db.query('SELECT count(*)::int AS visits FROM app_visits');
      return sendJson(res, 200, { visits: rows[0].visits });
    }
    const name = /^\/data\/files\/([A-Za-z0-9._-]{1,200})$/.exec(path)?.[1];
    if (name && req.method === 'PUT') {
      const chunks = [];
      let size = 0;
      for await (const chunk of req) {
        size += chunk.length;
        if (size > 1024 * 1024) return sendJson(res, 413, { error: { code: 'too_large', message: 'files up to 1 MiB' } });
        chunks.push(chunk);
      }
      await (await storage()).file(name).save(Buffer.concat(chunks), { resumable: false });
      return sendJson(res, 201, { name, size });
    }
    if (name && req.method === 'GET') {
      const [data] = await (await storage()).file(name).download();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(data);
    }
    return sendJson(res, 404, { error: { code: 'not_found', message: 'try POST /data/visits, PUT or GET /data/files/<name>' } });
  } catch (error) {
    const status = /** @type {{status?: number, code?: number}} */ (error).status ?? /** @type {any} */ (error.code === 404 ? 404 : 502);
    return sendJson(res, status, {
      error: {
        code: status === 501 ? 'not_configured' : 'data_unavailable',
        message: String(/** @type {Error} */ (error).message).slice(0, 300),
      },
    });
  }
}
