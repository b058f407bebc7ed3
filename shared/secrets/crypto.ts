import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** AES-256-GCM with a random 96-bit nonce; the output is `v1.<nonce>.<tag>.<ciphertext>` in base64url. */
export function encrypt(key: Buffer, plaintext: string, associated: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(associated));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', nonce, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** Reverses encrypt(); the associated data binds a ciphertext to its document, so a value moved elsewhere fails. */
export function decrypt(key: Buffer, sealed: string, associated: string): string {
  const [version, nonce, tag, body] = sealed.split('.');
  if (version !== 'v1' || !nonce || !tag || body === undefined) throw new Error('not a sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAAD(Buffer.from(associated));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A random token of `bytes` bytes as hex. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('hex');
