/**
 * The offline intent model (SPEC R-CHAT-4): plain commands to actions without
 * any AI service, so the product works on a laptop. It reads only what the user
 * typed; tool results are shown, never parsed, so nothing in a log line or a
 * site name can trigger an action.
 */
import type { ActionName } from './actions.ts';
import type { ChatModel } from './model.ts';

export type ParsedCommand =
  | { kind: 'action'; action: ActionName; args: Record<string, unknown> }
  | { kind: 'help' }
  | { kind: 'unknown'; hint?: string };

const EXAMPLES = [
  'create a tenant called shop',
  'list my tenants',
  'status of shop',
  'last 20 log lines of shop test',
  'metrics for shop',
  'what did shop cost this month',
  'billing for shop from 2026-11-01 to 2026-11-20',
  'suspend shop · resume shop',
  'deploy <image> to shop',
  'delete shop',
  'backups of shop · back up shop live · restore shop from backup <id>',
  'roll out release v2 to all tenants (admins)',
];

export const HELP_TEXT = `I can manage your tenants. Try:\n${EXAMPLES.map((e) => `• ${e}`).join('\n')}\nCreating, suspending, resuming, deploying, deleting and restoring a backup ask you to confirm first.`;

const INTENTS: [ActionName | 'HELP', RegExp][] = [
  ['HELP', /^(help|commands|\?)$|what can you do|how does this work/],
  ['RESTORE_BACKUP', /\b(restore)\b/],
  ['LIST_BACKUPS', /\b(backups)\b/],
  ['CREATE_BACKUP', /\b(backup|back up|snapshot)\b/],
  ['ROLLOUT_RELEASE', /\b(roll ?out|ship) (the )?release\b/],
  ['DEPLOY', /\b(deploy|ship|roll ?out|release)\b/],
  ['DELETE_SITE', /\b(delete|remove|destroy|drop|terminate|tear down|get rid of)\b/],
  ['SUSPEND_SITE', /\b(suspend|pause|stop|halt|freeze|disable|turn off|shut down)\b/],
  ['RESUME_SITE', /\b(resume|unpause|unsuspend|reactivate|wake|enable|turn on|start)\b/],
  ['CREATE_SITE', /\b(create|make|launch|set up|spin up|new site|new tenant|add a site)\b/],
  ['GET_LOGS', /\b(logs?|logging|output)\b/],
  ['GET_METRICS', /\b(metrics|cpu|memory|ram|load|performance|stats)\b/],
  ['GET_BILLING', /\b(cost|costs|costing|billing|bill|spend|spent|spending|invoice|charges?|pay)\b/],
  ['GET_STATUS', /\b(status|state|health|healthy|running|doing|up|down|alive)\b/],
  ['LIST_SITES', /\b(list|sites|tenants|websites)\b/],
];

const STOP = new Set(
  (
    'a an the my our your me i we you it its is are was were be of for on to from in at with and or this that these those what whats ' +
    'which how hows did does do show give get tell display see check please can could would will just now current currently ' +
    'about all much many last latest recent lines line entries month week today yesterday site sites tenant tenants website ' +
    'app called named environment env envs plan new one some there here log'
  ).split(' '),
);
const ENVS = ['demo', 'test', 'live'] as const;
const NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
const TENANT_ID = /^t-[a-z0-9]{6,20}$/;
const BACKUP_ID = /^b\d{14}-[0-9a-f]{4}-(demo|test|live)$/;
const KEYWORDS = new Set(INTENTS.flatMap(([, r]) => r.source.match(/[a-z]+/g) ?? []));

function words(text: string): string[] {
  return text
    .split(/\s+/)
    .map((w) => w.replace(/^["'(`]+|["'),.!?;`]+$/g, ''))
    .filter(Boolean);
}

/** Words that can name a site: not a command word, not filler, shaped like a name or a tenant id. */
function siteCandidates(ws: string[]): string[] {
  return ws.filter((w) => !BACKUP_ID.test(w) && (TENANT_ID.test(w) || (NAME.test(w) && !STOP.has(w) && !KEYWORDS.has(w))));
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function billingRange(text: string, now: Date): { from?: string; to?: string } {
  const dates = text.match(/\d{4}-\d{2}-\d{2}/g) ?? [];
  if (dates.length >= 2) return { from: dates[0], to: dates[1] };
  if (dates.length === 1) return { from: dates[0] };
  if (/\blast month\b/.test(text)) {
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 0));
    return { from: isoDay(first), to: isoDay(last) };
  }
  if (/\btoday\b/.test(text)) return { from: isoDay(now), to: isoDay(now) };
  return {};
}

/** Understands one plain command; `now` anchors relative dates like "last month". */
export function parseCommand(input: string, now: Date = new Date()): ParsedCommand {
  const original = input.trim();
  const text = original.toLowerCase();
  const intent = INTENTS.find(([, r]) => r.test(text))?.[0];
  if (!intent) return { kind: 'unknown' };
  if (intent === 'HELP') return { kind: 'help' };
  const ws = words(text);
  const action = intent;
  const needSite = (args: Record<string, unknown>, site: string | undefined, example: string): ParsedCommand =>
    site ? { kind: 'action', action, args: { site, ...args } } : { kind: 'unknown', hint: `Which tenant? For example: "${example}".` };

  switch (action) {
    case 'LIST_SITES':
      return { kind: 'action', action, args: {} };
    case 'CREATE_SITE': {
      const after = ws.findIndex((w) => w === 'called' || w === 'named');
      const planAt = ws.indexOf('plan');
      const plan =
        planAt > 0 ? (ws[planAt - 1] === 'the' ? undefined : STOP.has(ws[planAt - 1]) ? ws[planAt + 1] : ws[planAt - 1]) : undefined;
      const name = after >= 0 ? ws[after + 1] : siteCandidates(ws).find((w) => w !== plan && !(ENVS as readonly string[]).includes(w));
      if (!name) return { kind: 'unknown', hint: 'What should the tenant be called? For example: "create a tenant called shop".' };
      const withAt = ws.indexOf('with');
      const environments = withAt >= 0 ? ENVS.filter((e) => ws.slice(withAt).includes(e)) : [];
      const args: Record<string, unknown> = { name };
      if (environments.length > 0) args.environments = environments;
      if (plan && !STOP.has(plan)) args.plan = plan;
      return { kind: 'action', action, args };
    }
    case 'DEPLOY': {
      const originalWords = words(original);
      const image = originalWords.find((w) => /[/:]/.test(w));
      const to = ws.findIndex((w) => w === 'to' || w === 'on' || w === 'onto');
      const site = to >= 0 ? siteCandidates(ws.slice(to + 1))[0] : undefined;
      if (!image) return { kind: 'unknown', hint: 'Which image? For example: "deploy <registry>/tp-<id>/app:latest to shop".' };
      return needSite({ image }, site, 'deploy <image> to shop');
    }
    case 'ROLLOUT_RELEASE': {
      const at = ws.indexOf('release');
      const release = ws[at + 1];
      if (!release || !/^[a-z0-9][a-z0-9._-]*$/.test(release))
        return { kind: 'unknown', hint: 'Which release? For example: "roll out release v2 to all tenants".' };
      const planAt = ws.indexOf('plan');
      const plan = planAt > 0 ? (ws[planAt - 1] === 'the' || ws[planAt - 1] === 'on' ? ws[planAt + 1] : ws[planAt - 1]) : undefined;
      return { kind: 'action', action, args: plan && !STOP.has(plan) ? { release, plan } : { release } };
    }
    case 'GET_LOGS': {
      const candidates = siteCandidates(ws);
      const site = candidates.find((w) => !(ENVS as readonly string[]).includes(w)) ?? candidates[0];
      const env = ENVS.find((e) => ws.includes(e) && e !== site);
      const limit = Number(/\b(\d{1,4})\b/.exec(text)?.[1]);
      const args: Record<string, unknown> = {};
      if (env) args.env = env;
      if (Number.isInteger(limit) && limit > 0) args.limit = Math.min(limit, 200);
      return needSite(args, site, 'show the logs of shop');
    }
    case 'RESTORE_BACKUP': {
      const backup = ws.find((w) => BACKUP_ID.test(w));
      const into = ws.findIndex((w) => w === 'into' || w === 'to');
      const env = into >= 0 ? ENVS.find((e) => e === ws[into + 1]) : undefined;
      const site = siteCandidates(ws).find((w) => !(ENVS as readonly string[]).includes(w));
      if (!backup) return { kind: 'unknown', hint: 'Which backup? "backups of shop" lists them; then "restore shop from backup <id>".' };
      return needSite(env ? { backup, env } : { backup }, site, 'restore shop from backup <id>');
    }
    case 'CREATE_BACKUP': {
      const site = siteCandidates(ws).find((w) => !(ENVS as readonly string[]).includes(w));
      const env = ENVS.find((e) => ws.includes(e));
      return needSite(env ? { env } : {}, site, 'back up shop');
    }
    case 'LIST_BACKUPS':
      return needSite({}, siteCandidates(ws)[0], 'backups of shop');
    case 'GET_BILLING':
      return needSite(billingRange(text, now), siteCandidates(ws.filter((w) => !/^\d/.test(w)))[0], 'what did shop cost this month');
    default:
      return needSite({}, siteCandidates(ws)[0], `${action === 'GET_STATUS' ? 'status of' : action.split('_')[0].toLowerCase()} shop`);
  }
}

export function notUnderstood(message: string, hint?: string): string {
  const quoted = message.length > 80 ? `${message.slice(0, 77)}…` : message;
  return `${hint ?? `I didn't understand "${quoted}".`}\n${hint ? '' : `Try one of:\n${EXAMPLES.map((e) => `• ${e}`).join('\n')}`}`.trim();
}

/**
 * Builds the offline intent model; it needs nothing but a clock (for dates
 * such as "this month"), so the chat works with no AI service configured.
 */
export function createOfflineModel(options: { now?: () => Date } = {}): ChatModel {
  const now = options.now ?? (() => new Date());
  return {
    name: 'offline',
    async respond(turn) {
      const parsed = parseCommand(turn.message, now());
      if (parsed.kind === 'help') return turn.text(HELP_TEXT);
      if (parsed.kind === 'unknown') return turn.text(notUnderstood(turn.message, parsed.hint));
      const outcome = await turn.call(parsed.action, parsed.args);
      turn.text(outcome.summary);
    },
  };
}
