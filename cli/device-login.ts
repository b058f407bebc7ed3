/**
 * `tenantplane login` without pasting tokens: the device flow of
 * functions/api/routes/device.ts, as `gh auth login` does it. The CLI shows a
 * short code and a URL, polls at the interval the server asks for while the
 * person approves in a signed-in browser, then exchanges the one-time Firebase
 * custom token it receives for an ID and refresh token at the Identity Toolkit
 * (the Auth emulator's when `GET /api/config` names one).
 */
import type { CommandContext } from './command.ts';
import { PRODUCTION_TOKEN_ENDPOINT, type StoredCredentials } from './credentials.ts';
import { CliError } from './errors.ts';

interface StartAnswer {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval: number;
}

interface WebConfig {
  firebase: { apiKey: string };
  authEmulatorHost?: string;
}

type ErrorBody = { error?: { code?: string; message?: string; details?: { error?: string; interval?: number } } };

export interface DeviceLoginOptions {
  /** Also mail a sign-in link to this address (for a machine with no browser at hand). */
  email?: string;
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs the whole flow and returns what to store; throws a CliError saying what to do when it cannot finish. */
export async function deviceLogin(
  url: string,
  ctx: Pick<CommandContext, 'fetch' | 'out'>,
  options: DeviceLoginOptions = {},
): Promise<StoredCredentials> {
  const sleep = options.sleep ?? wait;
  const config = await call<WebConfig>(ctx.fetch, url, 'GET', '/api/config');
  const start = await call<StartAnswer>(ctx.fetch, url, 'POST', '/api/v1/device/code', {});
  const minutes = Math.round(start.expires_in / 60);
  if (options.email) {
    await call(ctx.fetch, url, 'POST', '/api/signup', { email: options.email });
    ctx.out.note(`We sent a sign-in link to ${options.email}. Open it on any device (a phone will do): it signs you in there.`);
    ctx.out.note(`Then open ${start.verification_uri} on that device and enter the code ${start.user_code}.`);
  } else {
    ctx.out.note(`! Your one-time code: ${start.user_code}`);
    ctx.out.note(
      `Open ${start.verification_uri_complete ?? start.verification_uri} in a browser where you are signed in to tenantplane, check that it shows this code, and approve.`,
    );
  }
  ctx.out.note(`Waiting for approval (the code expires in ${minutes} minutes; Ctrl-C cancels)…`);

  const customToken = await pollForToken(ctx.fetch, url, start, sleep);
  return { url, ...(await exchangeCustomToken(ctx.fetch, config, customToken)) };
}

/** Polls until approved (the custom token), denied or expired; `slow_down` lengthens the interval as the server says. */
async function pollForToken(fetchFn: typeof fetch, url: string, start: StartAnswer, sleep: (ms: number) => Promise<void>): Promise<string> {
  let interval = start.interval;
  const deadline = Date.now() + start.expires_in * 1000;
  while (Date.now() < deadline) {
    await sleep(interval * 1000);
    const res = await send(fetchFn, url, 'POST', '/api/v1/device/token', { device_code: start.device_code });
    const body = (await res.json().catch(() => ({}))) as ErrorBody & { custom_token?: string; interval?: number };
    const rfcError = body.error?.details?.error;
    if (res.status === 200 && body.custom_token) return body.custom_token;
    if (res.status === 202) interval = body.interval ?? interval;
    else if (rfcError === 'slow_down') interval = body.error?.details?.interval ?? interval + 5;
    else if (rfcError === 'access_denied')
      throw new CliError(
        'The sign-in was denied in the browser. Run `tenantplane login` again to start over.',
        'access_denied',
        res.status,
      );
    else if (rfcError === 'expired_token')
      throw new CliError(
        'The code expired before it was approved. Run `tenantplane login` again for a new one.',
        'expired_token',
        res.status,
      );
    else
      throw new CliError(
        `${body.error?.message ?? `The API answered HTTP ${res.status} while waiting for approval.`}`,
        body.error?.code ?? `http_${res.status}`,
        res.status,
      );
  }
  throw new CliError('The code expired before it was approved. Run `tenantplane login` again for a new one.', 'expired_token');
}

/** `accounts:signInWithCustomToken`: the custom token becomes an ID token and a refresh token. */
async function exchangeCustomToken(fetchFn: typeof fetch, config: WebConfig, customToken: string): Promise<Omit<StoredCredentials, 'url'>> {
  const apiKey = config.firebase.apiKey;
  const base = config.authEmulatorHost
    ? `http://${config.authEmulatorHost}/identitytoolkit.googleapis.com`
    : 'https://identitytoolkit.googleapis.com';
  const tokenEndpoint = config.authEmulatorHost
    ? `http://${config.authEmulatorHost}/securetoken.googleapis.com/v1/token`
    : PRODUCTION_TOKEN_ENDPOINT;
  let res: Response;
  try {
    res = await fetchFn(`${base}/v1/accounts:signInWithCustomToken?key=${encodeURIComponent(apiKey)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: customToken, returnSecureToken: true }),
    });
  } catch (err) {
    throw new CliError(`Cannot reach the sign-in service at ${base} (${(err as Error).message}); check your network.`, 'unreachable');
  }
  const body = (await res.json().catch(() => ({}))) as { idToken?: string; refreshToken?: string; error?: { message?: string } };
  if (!res.ok || !body.idToken || !body.refreshToken) {
    throw new CliError(
      `The sign-in service refused the approved sign-in (${body.error?.message ?? `HTTP ${res.status}`}); run \`tenantplane login\` again.`,
      'sign_in_failed',
      res.status,
    );
  }
  return { idToken: body.idToken, refreshToken: body.refreshToken, apiKey, tokenEndpoint };
}

async function send(fetchFn: typeof fetch, url: string, method: string, path: string, json?: unknown): Promise<Response> {
  try {
    return await fetchFn(url + path, {
      method,
      headers: json === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new CliError(
      `Cannot reach the API at ${url} (${cause?.code ?? (err as Error).message}); is it running? Pass --url.`,
      'unreachable',
    );
  }
}

async function call<T = Record<string, unknown>>(
  fetchFn: typeof fetch,
  url: string,
  method: string,
  path: string,
  json?: unknown,
): Promise<T> {
  const res = await send(fetchFn, url, method, path, json);
  const body = (await res.json().catch(() => undefined)) as (T & ErrorBody) | undefined;
  if (!body)
    throw new CliError(
      `The API answered ${res.status} with a body that is not JSON; is ${url} a tenantplane API?`,
      'bad_response',
      res.status,
    );
  if (!res.ok)
    throw new CliError(body.error?.message ?? `The API answered HTTP ${res.status}.`, body.error?.code ?? `http_${res.status}`, res.status);
  return body;
}
