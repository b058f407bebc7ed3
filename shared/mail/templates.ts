/**
 * The signup mails, as text and HTML. Everything a visitor typed (name,
 * company) is HTML-escaped in the HTML part and kept off the subject line, so
 * a signup cannot inject markup or headers into a mail we send to anyone.
 */
import type { MailMessage } from './types.ts';

export interface SignupMailInput {
  to: string;
  /** The visitor's name as typed, if given. */
  name?: string;
  company?: string;
  /** `<PUBLIC_URL>/activate.html?token=<token>`, see buildActivationLink. */
  link: string;
  /** How long the link stays valid. */
  ttlHours: number;
  productName?: string;
}

/** The link a signup mail carries; the activation page reads `token` and calls the API. */
export function buildActivationLink(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/activate.html?token=${encodeURIComponent(token)}`;
}

/** A first (or repeated, not yet activated) signup: confirm the address to activate the account. */
export function renderActivationMail(input: SignupMailInput): MailMessage {
  const product = input.productName ?? 'tenantplane';
  const greeting = input.name ? `Hello ${input.name},` : 'Hello,';
  const forCompany = input.company ? ` for ${input.company}` : '';
  const text = [
    greeting,
    '',
    `Thanks for signing up to ${product}${forCompany}. Confirm your email address to activate your account:`,
    '',
    input.link,
    '',
    `The link works once and expires in ${hours(input.ttlHours)}. If it expires, sign up again to get a new one.`,
    '',
    'If you did not sign up, ignore this mail: nothing happens until the link is opened.',
  ].join('\n');
  const html = layout(
    `Activate your ${escapeHtml(product)} account`,
    `<p>${escapeHtml(greeting)}</p>
<p>Thanks for signing up to ${escapeHtml(product)}${escapeHtml(forCompany)}. Confirm your email address to activate your account:</p>
${button(input.link, 'Activate my account')}
<p style="font-size:13px;color:#4b5563">Or paste this link into your browser:<br><a href="${escapeHtml(input.link)}" style="word-break:break-all">${escapeHtml(input.link)}</a></p>
<p style="font-size:13px;color:#4b5563">The link works once and expires in ${hours(input.ttlHours)}. If it expires, sign up again to get a new one.</p>
<p style="font-size:13px;color:#4b5563">If you did not sign up, ignore this mail: nothing happens until the link is opened.</p>`,
  );
  return { to: input.to, subject: `Activate your ${product} account`, text, html };
}

/**
 * A sign-in (or a repeated signup) for an address that already has an account:
 * a sign-in mail with a one-time sign-in link. The API answered the visitor
 * exactly as for a new address, so only the mailbox owner learns the account exists.
 */
export function renderAccountExistsMail(input: SignupMailInput): MailMessage {
  const product = input.productName ?? 'tenantplane';
  const greeting = input.name ? `Hello ${input.name},` : 'Hello,';
  const text = [
    greeting,
    '',
    `Here is your link to sign in to ${product}: you already have an account with this address, so there is nothing to activate.`,
    '',
    input.link,
    '',
    `The link works once and expires in ${hours(input.ttlHours)}. Open it in the browser you want to stay signed in on.`,
    '',
    'If you did not ask to sign in, ignore this mail: your account is unchanged.',
  ].join('\n');
  const html = layout(
    `Sign in to ${escapeHtml(product)}`,
    `<p>${escapeHtml(greeting)}</p>
<p>Here is your link to sign in to ${escapeHtml(product)}: <strong>you already have an account</strong> with this address, so there is nothing to activate.</p>
${button(input.link, 'Sign in')}
<p style="font-size:13px;color:#4b5563">Or paste this link into your browser:<br><a href="${escapeHtml(input.link)}" style="word-break:break-all">${escapeHtml(input.link)}</a></p>
<p style="font-size:13px;color:#4b5563">The link works once and expires in ${hours(input.ttlHours)}. Open it in the browser you want to stay signed in on.</p>
<p style="font-size:13px;color:#4b5563">If you did not ask to sign in, ignore this mail: your account is unchanged.</p>`,
  );
  return { to: input.to, subject: `Your ${product} sign-in link`, text, html };
}

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function hours(n: number): string {
  return n === 1 ? '1 hour' : `${n} hours`;
}

function button(href: string, label: string): string {
  return `<p><a href="${escapeHtml(href)}" style="display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:600">${escapeHtml(label)}</a></p>`;
}

/** Inline styles only: most mail clients drop <style> blocks. */
function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head>
<body style="margin:0;padding:24px;background:#f3f4f6;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111827">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px;line-height:1.5">
<h1 style="font-size:20px;margin:0 0 16px">${title}</h1>
${body}
</div></body></html>`;
}

export interface EnvironmentFailedMailInput {
  to: string;
  tenantName: string;
  env: string;
  /** What failed, e.g. "provision", "deploy", "resume", or "the runtime". */
  what: string;
  /** The error as the platform recorded it (no secrets: driver and operation messages). */
  reason: string;
  /** `<PUBLIC_URL>/tenants.html?id=<tenant id>` */
  link: string;
  productName?: string;
}

/** To a tenant's owner when one of its environments fails (once per failure). */
export function renderEnvironmentFailedMail(input: EnvironmentFailedMailInput): MailMessage {
  const product = input.productName ?? 'tenantplane';
  const subject = `${input.tenantName}: the ${input.env} environment failed`;
  const text = [
    'Hello,',
    '',
    `The ${input.env} environment of your tenant ${input.tenantName} failed (${input.what}):`,
    '',
    input.reason,
    '',
    'See its status and logs, and retry, on its page:',
    input.link,
    '',
    `You get this mail once per failure, from ${product}.`,
  ].join('\n');
  const html = layout(
    `The ${escapeHtml(input.env)} environment of ${escapeHtml(input.tenantName)} failed`,
    `<p>Hello,</p>
<p>The ${escapeHtml(input.env)} environment of your tenant <b>${escapeHtml(input.tenantName)}</b> failed (${escapeHtml(input.what)}):</p>
<pre style="white-space:pre-wrap;word-break:break-word;background:#f9fafb;padding:12px;border-radius:6px">${escapeHtml(input.reason)}</pre>
${button(input.link, 'Open the tenant')}
<p style="font-size:13px;color:#4b5563">You get this mail once per failure, from ${escapeHtml(product)}.</p>`,
  );
  return { to: input.to, subject, text, html };
}
