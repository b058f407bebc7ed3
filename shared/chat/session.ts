/**
 * One chat turn over Server-Sent Events: runs the model with the caller's
 * allowed actions, turns every action call into `action` / `result` /
 * `confirmation_required` / `error` events, streams the text, stores the
 * conversation, and always ends with `done`.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import { AppError, toAppError } from '../errors.ts';
import type { SseStream } from '../http/sse.ts';
import type { Logger } from '../log.ts';
import type { TenantService } from '../tenants/types.ts';
import { allowedActions } from './actions.ts';
import type { Confirmation } from './confirmations.ts';
import { appendMessages, loadHistory, type StoredMessage } from './conversations.ts';
import type { ActionExecutor, ActionOutcome } from './execute.ts';
import type { ChatContext, ChatModel } from './model.ts';

export interface SessionDeps {
  db: Firestore;
  tenants: TenantService;
  executor: ActionExecutor;
  model: ChatModel;
  config: Pick<Config, 'chat'>;
  log: Logger;
  now: () => Date;
  /** The request's id, for the audit trail of confirmed actions. */
  requestId?: string;
}

/** The SSE events of one outcome; action-level problems are `error` events shaped like SPEC §9 bodies. */
function sendOutcome(sse: SseStream, outcome: ActionOutcome): void {
  switch (outcome.kind) {
    case 'result':
      sse.send({
        event: 'result',
        data: { action: outcome.action, summary: outcome.summary, display: outcome.display, data: outcome.data },
      });
      return;
    case 'confirmation_required': {
      const c = outcome.confirmation;
      sse.send({
        event: 'confirmation_required',
        data: { id: c.id, action: c.action, args: c.args, summary: c.summary, expiresAt: c.expiresAt },
      });
      return;
    }
    case 'refused':
      sse.send({ event: 'error', data: { error: { code: outcome.code, message: outcome.summary, details: { action: outcome.action } } } });
      return;
    case 'invalid':
      sse.send({
        event: 'error',
        data: { error: { code: 'validation_failed', message: outcome.summary, details: { action: outcome.action, ...outcome.details } } },
      });
      return;
    case 'failed':
      sse.send({ event: 'error', data: { error: { ...outcome.error, details: { ...outcome.error.details, action: outcome.action } } } });
  }
}

function record(outcome: ActionOutcome): Omit<StoredMessage, 'at'> {
  return { role: 'action', action: outcome.action, outcome: outcome.kind, text: outcome.summary };
}

async function buildContext(deps: SessionDeps, p: Principal, recentResults: ChatContext['recentResults']): Promise<ChatContext> {
  let sites: ChatContext['sites'] = [];
  try {
    const page = await deps.tenants.list(p, { pageSize: 25, ownerId: p.uid });
    sites = page.items.map((t) => ({ id: t.id, name: t.name, state: t.state }));
  } catch (err) {
    deps.log.warn('chat context: could not list sites', { err });
  }
  return { uid: p.uid, role: p.role, sites, recentResults };
}

/** Streams the answer to a message. Model failures become an `error` event; the conversation keeps what was said. */
export async function streamMessage(
  sse: SseStream,
  deps: SessionDeps,
  p: Principal,
  conversationId: string,
  message: string,
): Promise<void> {
  const stored: Omit<StoredMessage, 'at'>[] = [{ role: 'user', text: message }];
  let reply = '';
  try {
    const { history, recentResults } = await loadHistory(deps.db, conversationId, deps.config.chat.historyBudgetChars);
    const context =
      deps.model.name === 'offline' ? { uid: p.uid, role: p.role, sites: [], recentResults } : await buildContext(deps, p, recentResults);
    await deps.model.respond({
      message,
      history,
      context,
      actions: allowedActions(p.role),
      text(chunk) {
        if (!chunk) return;
        reply += chunk;
        sse.send({ event: 'text', data: { text: chunk } });
      },
      async call(name, args) {
        sse.send({ event: 'action', data: { action: name, args } });
        const outcome = await deps.executor.propose(p, conversationId, name, args);
        sendOutcome(sse, outcome);
        stored.push(record(outcome));
        return outcome;
      },
    });
  } catch (err) {
    sendError(sse, deps.log, err);
  } finally {
    if (reply) stored.push({ role: 'assistant', text: reply });
    await appendMessages(deps.db, conversationId, stored, deps.now()).catch((err) =>
      deps.log.error('chat: storing messages failed', { err }),
    );
    sse.send({ event: 'done', data: { conversationId } });
  }
}

/** Runs a claimed confirmation and streams its result. */
export async function streamConfirmed(
  sse: SseStream,
  deps: SessionDeps,
  p: Principal,
  conversationId: string,
  confirmation: Confirmation,
): Promise<void> {
  const stored: Omit<StoredMessage, 'at'>[] = [{ role: 'user', text: `Confirmed: ${confirmation.summary}` }];
  try {
    sse.send({ event: 'action', data: { action: confirmation.action, args: confirmation.args } });
    const outcome = await deps.executor.runConfirmed(p, confirmation, deps.requestId);
    sendOutcome(sse, outcome);
    sse.send({ event: 'text', data: { text: outcome.summary } });
    stored.push(record(outcome), { role: 'assistant', text: outcome.summary });
  } catch (err) {
    sendError(sse, deps.log, err);
  } finally {
    await appendMessages(deps.db, conversationId, stored, deps.now()).catch((err) =>
      deps.log.error('chat: storing messages failed', { err }),
    );
    sse.send({ event: 'done', data: { conversationId } });
  }
}

function sendError(sse: SseStream, log: Logger, err: unknown): void {
  const error = toAppError(err);
  if (!(err instanceof AppError) || error.status >= 500) log.error('chat turn failed', { err: error.cause ?? error });
  sse.send({ event: 'error', data: error.toBody() });
}
