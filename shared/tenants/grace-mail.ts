/**
 * The mail a deleted tenant's owner gets a day before its data is dropped:
 * when, and the three ways to restore it (the My tenants page, the CLI, the API).
 * The tenant's name is the owner's own text, so the HTML part escapes it.
 */
import { escapeHtml } from '../mail/templates.ts';
import type { MailMessage } from '../mail/types.ts';

export interface DeletionReminderInput {
  to: string;
  tenant: { id: string; name: string };
  publicUrl: string;
  /** ISO time the data is dropped. */
  deletesAt: string;
}

/** "Tuesday 8 December 2026, 10:54 UTC": unambiguous in any locale. */
function when(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
    timeZoneName: 'short',
  });
}

export function renderDeletionReminder(input: DeletionReminderInput): MailMessage {
  const page = `${input.publicUrl.replace(/\/+$/, '')}/tenants.html#deleted`;
  const at = when(input.deletesAt);
  const text = [
    'Hello,',
    '',
    `You deleted the tenant ${input.tenant.name} (${input.tenant.id}). Its databases, buckets and backups are kept until ${at}; then they are deleted for good.`,
    '',
    `To get it back with its data, restore it before then: open ${page} and press Restore,`,
    `or run \`npx tenantplane restore ${input.tenant.name}\`, or call POST /api/v1/tenants/${input.tenant.id}/restore.`,
    '',
    'If you meant to delete it, there is nothing to do.',
  ].join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your data will be deleted</title></head>
<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111827">
<p>Hello,</p>
<p>You deleted the tenant <strong>${escapeHtml(input.tenant.name)}</strong> (${escapeHtml(input.tenant.id)}). Its databases, buckets and backups are kept until <strong>${escapeHtml(at)}</strong>; then they are deleted for good.</p>
<p>To get it back with its data, restore it before then:</p>
<p><a href="${escapeHtml(page)}" style="display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:600">Restore ${escapeHtml(input.tenant.name)}</a></p>
<p>or run <code>npx tenantplane restore ${escapeHtml(input.tenant.name)}</code>, or call <code>POST /api/v1/tenants/${escapeHtml(input.tenant.id)}/restore</code>.</p>
<p>If you meant to delete it, there is nothing to do.</p>
</body></html>`;
  return { to: input.to, subject: `Your data of ${input.tenant.name} will be deleted on ${at}`, text, html };
}
