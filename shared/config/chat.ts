/**
 * The chat part of the config. Gemini is chosen when credentials for it are
 * set, so a machine without them still gets a working chat (the offline model).
 */
import { int, oneOf, optional, str, url, type Env } from './readers.ts';

/** The chat function (SPEC §5): which model answers, and the limits around it. */
export interface ChatConfig {
  /** `gemini` when credentials are configured (or CHAT_MODEL=gemini), else the offline intent model. */
  model: 'offline' | 'gemini';
  gemini: {
    model: string;
    /** Vertex AI project and location; unused when `apiKey` selects the Gemini Developer API. */
    project: string;
    location: string;
    apiKey?: string;
    /** Points the SDK at another endpoint (tests: the local Gemini fake). */
    baseUrl?: string;
  };
  /** How long a destructive action's confirmation stays valid. */
  confirmationTtlSeconds: number;
  /** Characters of stored conversation sent back to the model (about 4 characters per token). */
  historyBudgetChars: number;
  /** Chat requests per user per minute. */
  rateLimitPerMinute: number;
}

/** The chat section; see {@link ChatConfig}. */
export function parseChatConfig(env: Env, base: { projectId: string }): ChatConfig {
  const apiKey = optional(env, 'GEMINI_API_KEY');
  const vertexProject = optional(env, 'VERTEX_PROJECT');
  const model = oneOf(env, 'CHAT_MODEL', ['offline', 'gemini'] as const, apiKey || vertexProject ? 'gemini' : 'offline');
  const baseUrl = optional(env, 'GEMINI_BASE_URL') && url(env, 'GEMINI_BASE_URL', 'http://127.0.0.1:8089');
  return {
    model,
    gemini: {
      model: str(env, 'GEMINI_MODEL', 'gemini-2.5-flash'),
      project: vertexProject ?? base.projectId,
      location: str(env, 'VERTEX_LOCATION', 'us-central1'),
      apiKey,
      baseUrl: baseUrl || undefined,
    },
    confirmationTtlSeconds: int(env, 'CHAT_CONFIRMATION_TTL_SECONDS', 300, 10, 3600),
    historyBudgetChars: int(env, 'CHAT_HISTORY_CHARS', 12_000, 500, 500_000),
    rateLimitPerMinute: int(env, 'CHAT_RATE_LIMIT_PER_MINUTE', 20, 1, 10_000),
  };
}
