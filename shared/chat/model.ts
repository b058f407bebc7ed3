/**
 * The chat model port: one turn in, text and action calls out. Two drivers:
 * Gemini (gemini.ts) and the offline intent model (offline.ts), chosen in
 * exactly one place (createChatModel).
 */
import type { Role } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { ActionName } from './actions.ts';
import type { ActionOutcome } from './execute.ts';

export interface HistoryMessage {
  role: 'user' | 'assistant';
  text: string;
}

/** What the model is told about the caller; tenant names are user-chosen, so they are data too. */
export interface ChatContext {
  uid: string;
  role: Role;
  sites: { id: string; name: string; state: string }[];
  /** Summaries of recent action results in this conversation, oldest first. */
  recentResults: { action: string; summary: string }[];
}

export interface ChatTurn {
  message: string;
  /** Earlier messages of the conversation, oldest first, already trimmed to the budget. */
  history: HistoryMessage[];
  context: ChatContext;
  /** The only actions the model may call (ROLE_ACTIONS of the caller). */
  actions: readonly ActionName[];
  /** Streams a chunk of the reply to the user. */
  text(chunk: string): void;
  /** Asks the server to run an action; the server validates, authorizes and may ask for confirmation instead. */
  call(name: string, args: unknown): Promise<ActionOutcome>;
}

export interface ChatModel {
  readonly name: 'offline' | 'gemini';
  respond(turn: ChatTurn): Promise<void>;
}

/** Picks the model from config; the only switch over model names. */
export async function createChatModel(config: Pick<Config, 'chat'>): Promise<ChatModel> {
  switch (config.chat.model) {
    case 'offline': {
      const { createOfflineModel } = await import('./offline.ts');
      return createOfflineModel();
    }
    case 'gemini': {
      // Loaded lazily so cold starts of the offline setup never pay for the SDK.
      const { createGeminiModel } = await import('./gemini.ts');
      return createGeminiModel(config.chat.gemini);
    }
    default:
      throw new Error(`Unknown chat model "${String(config.chat.model)}"; use offline or gemini (CHAT_MODEL).`);
  }
}
