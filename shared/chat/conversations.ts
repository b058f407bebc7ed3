/**
 * Conversation history: `conversations/{id}` (owner, timestamps) and
 * `conversations/{id}/messages/{id}` in time order. Only the owner can read or
 * continue a conversation; anyone else gets the same 404 as for an unknown id.
 */
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Principal } from '../auth/principal.ts';
import { notFound } from '../errors.ts';
import type { HistoryMessage } from './model.ts';

export interface StoredMessage {
  role: 'user' | 'assistant' | 'action';
  text: string;
  /** For `action` messages: which action and how it ended. */
  action?: string;
  outcome?: string;
  at: string;
}

const conversations = (db: Firestore) => db.collection('conversations');

/** Loads the caller's conversation, or starts a new one when no id is given. */
export async function openConversation(
  db: Firestore,
  p: Principal,
  id: string | undefined,
  now: Date,
): Promise<{ id: string; created: boolean }> {
  if (id) {
    if (!/^[\w-]{8,64}$/.test(id)) throw notFound('That conversation');
    const snap = await conversations(db).doc(id).get();
    if (!snap.exists || snap.get('ownerId') !== p.uid) throw notFound('That conversation');
    return { id, created: false };
  }
  const newId = `conv-${randomBytes(12).toString('base64url')}`;
  await conversations(db).doc(newId).create({ ownerId: p.uid, createdAt: now.toISOString(), updatedAt: now.toISOString() });
  return { id: newId, created: true };
}

/** Message ids sort by time too, so a listing by id reads in order; history is read newest first by `at` (single-field index). */
function messageId(now: Date): string {
  return `${now.getTime().toString().padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
}

export async function appendMessages(
  db: Firestore,
  conversationId: string,
  messages: Omit<StoredMessage, 'at'>[],
  now: Date,
): Promise<void> {
  if (messages.length === 0) return;
  const batch = db.batch();
  const conversation = conversations(db).doc(conversationId);
  messages.forEach((m, i) => {
    const at = new Date(now.getTime() + i);
    batch.create(conversation.collection('messages').doc(messageId(at)), { ...m, at: at.toISOString() });
  });
  batch.update(conversation, { updatedAt: now.toISOString() });
  await batch.commit();
}

/**
 * The most recent messages that fit the budget (characters; about 4 per token),
 * oldest first, split into dialogue and action results.
 */
export async function loadHistory(
  db: Firestore,
  conversationId: string,
  budgetChars: number,
): Promise<{ history: HistoryMessage[]; recentResults: { action: string; summary: string }[] }> {
  const snap = await conversations(db).doc(conversationId).collection('messages').orderBy('at', 'desc').limit(100).get();
  const picked: StoredMessage[] = [];
  let used = 0;
  for (const doc of snap.docs) {
    const m = doc.data() as StoredMessage;
    used += m.text.length + 20;
    if (used > budgetChars) break;
    picked.push(m);
  }
  picked.reverse();
  return {
    history: picked.filter((m) => m.role !== 'action').map((m) => ({ role: m.role as HistoryMessage['role'], text: m.text })),
    recentResults: picked
      .filter((m) => m.role === 'action')
      .slice(-10)
      .map((m) => ({ action: m.action ?? '?', summary: m.text })),
  };
}
