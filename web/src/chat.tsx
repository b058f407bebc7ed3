/**
 * The chat (R-CHAT-1…4): streamed replies, action results, and confirmation
 * buttons for actions that change things. The conversation is kept in this
 * browser per user, so a reload shows it again.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { SignedInUser } from './lib/auth.ts';
import { describeError } from './lib/errors.ts';
import { postEventStream, type SseMessage } from './lib/sse.ts';
import { Button, Spinner } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';

type Item =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; text: string }
  | { kind: 'action'; action: string }
  | { kind: 'result'; action: string; summary: string; display?: string }
  | { kind: 'confirm'; id: string; action: string; summary: string; state: 'open' | 'sent' | 'confirmed' | 'cancelled' }
  | { kind: 'error'; message: string };

const EXAMPLES = [
  'list my tenants',
  'create a tenant called shop',
  'status of shop',
  'show the logs of shop',
  'what did shop cost this month',
];

/** What the assistant is doing, in words (the actions' internal names never show). */
const ACTION_WORDS: Record<string, string> = {
  CREATE_SITE: 'Creating the tenant',
  LIST_SITES: 'Listing your tenants',
  GET_STATUS: 'Checking its status',
  GET_LOGS: 'Reading the logs',
  GET_METRICS: 'Reading the metrics',
  GET_BILLING: 'Adding up the costs',
  SUSPEND_SITE: 'Suspending the tenant',
  RESUME_SITE: 'Resuming the tenant',
  DEPLOY: 'Deploying',
  DELETE_SITE: 'Deleting the tenant',
  ROTATE_CREDENTIALS: 'Rotating the credentials',
};
const describeAction = (action: string) => ACTION_WORDS[action] ?? 'Working';

interface Stored {
  conversationId?: string;
  items: Item[];
}

function readStored(key: string): Stored {
  try {
    const stored = JSON.parse(localStorage.getItem(key) ?? 'null') as Stored | null;
    // A confirmation left mid-flight by a reload is open again: its outcome was not seen.
    return stored
      ? { ...stored, items: stored.items.map((x) => (x.kind === 'confirm' && x.state === 'sent' ? { ...x, state: 'open' } : x)) }
      : { items: [] };
  } catch {
    return { items: [] };
  }
}

function Chat({ user }: { user: SignedInUser }) {
  const storeKey = `tenantplane.chat.${user.uid}`;
  const [initial] = useState(() => readStored(storeKey));
  const [items, setItems] = useState<Item[]>(initial.items);
  const [busy, setBusy] = useState(false);
  const [conversationId, setConversationId] = useState<string | undefined>(initial.conversationId);
  useEffect(() => {
    localStorage.setItem(storeKey, JSON.stringify({ conversationId, items: items.slice(-200) }));
  }, [items, conversationId]);
  const input = useRef<HTMLTextAreaElement>(null);
  const end = useRef<HTMLDivElement>(null);
  // Braces matter: Chromium's scrollIntoView returns a promise, and an effect may return only a cleanup function.
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [items]);

  const push = (item: Item) => setItems((all) => [...all, item]);
  /** Text chunks grow the last assistant bubble; anything else starts a new item. */
  const appendText = (text: string) =>
    setItems((all) => {
      const last = all.at(-1);
      return last?.kind === 'assistant'
        ? [...all.slice(0, -1), { ...last, text: last.text + text }]
        : [...all, { kind: 'assistant', text }];
    });

  function onEvent(m: SseMessage) {
    const data = JSON.parse(m.data || '{}');
    switch (m.event) {
      case 'text':
        return appendText(data.text ?? '');
      case 'action':
        return push({ kind: 'action', action: data.action });
      case 'result':
        return push({ kind: 'result', action: data.action, summary: data.summary, display: data.display });
      case 'confirmation_required':
        return push({ kind: 'confirm', id: data.id, action: data.action, summary: data.summary, state: 'open' });
      case 'error':
        failed.current = true;
        return push({ kind: 'error', message: data.error?.message ?? 'Something went wrong.' });
      case 'done':
        if (data.conversationId) setConversationId(data.conversationId);
    }
  }

  const failed = useRef(false);
  /** Runs one turn; resolves true when nothing in it failed. */
  async function turn(body: Record<string, unknown>): Promise<boolean> {
    setBusy(true);
    failed.current = false;
    let start = 0;
    setItems((all) => ((start = all.length), all));
    try {
      await postEventStream('/api/chat', { ...body, ...(conversationId ? { conversationId } : {}) }, onEvent, { via: 'chat' });
    } catch (err) {
      failed.current = true;
      push({ kind: 'error', message: describeError(err) });
    } finally {
      // A reply that repeats a result or error of the same turn is shown once.
      setItems((all) => {
        const said = new Set(
          all.slice(start).flatMap((x) => (x.kind === 'result' ? [x.summary.trim()] : x.kind === 'error' ? [x.message.trim()] : [])),
        );
        return all.filter((x, i) => i < start || x.kind !== 'assistant' || !said.has(x.text.trim()));
      });
      setBusy(false);
      input.current?.focus();
    }
    return !failed.current;
  }

  function send(e?: FormEvent) {
    e?.preventDefault();
    const message = input.current?.value.trim();
    if (!message || busy) return;
    input.current!.value = '';
    push({ kind: 'user', text: message });
    void turn({ message });
  }

  function decide(id: string, confirmed: boolean) {
    const mark = (state: 'open' | 'sent' | 'confirmed' | 'cancelled') =>
      setItems((all) => all.map((x) => (x.kind === 'confirm' && x.id === id ? { ...x, state } : x)));
    if (!confirmed) {
      mark('cancelled');
      return push({ kind: 'assistant', text: 'Cancelled: nothing was changed.' });
    }
    mark('sent');
    // "Confirmed" only once it ran; a refusal (rate limit, expired) leaves the buttons for another try.
    void turn({ confirm: id }).then((ok) => mark(ok ? 'confirmed' : 'open'));
  }

  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1>Chat</h1>
        <Button
          small
          variant="secondary"
          onClick={() => {
            localStorage.removeItem(storeKey);
            setConversationId(undefined);
            setItems([]);
          }}
        >
          New conversation
        </Button>
      </div>
      <div role="log" aria-live="polite" aria-label="Conversation" className="card min-h-64 space-y-3">
        {items.length === 0 && (
          <div className="text-sm text-slate-600">
            <p>Ask me to manage your tenants. For example:</p>
            <ul className="mt-2 flex flex-wrap gap-2">
              {EXAMPLES.map((x) => (
                <li key={x}>
                  <button
                    type="button"
                    className="btn btn-secondary btn-small"
                    onClick={() => {
                      input.current!.value = x;
                      input.current!.focus();
                    }}
                  >
                    {x}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
        {items.map((item, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the conversation only grows, so an index names the same item for good
          <ChatItem key={i} item={item} busy={busy} onDecide={decide} />
        ))}
        {busy && <Spinner label="Working…" />}
        <div ref={end} />
      </div>
      <form onSubmit={send} className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <div className="flex-1">
          <label htmlFor="chat-message" className="label">
            Message
          </label>
          <textarea
            id="chat-message"
            ref={input}
            rows={2}
            maxLength={4000}
            className="input resize-y"
            placeholder="create a tenant called shop"
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                send();
              }
            }}
          />
        </div>
        <Button type="submit" busy={busy} busyLabel="Sending…">
          Send
        </Button>
      </form>
    </div>
  );
}

function ChatItem({ item, busy, onDecide }: { item: Item; busy: boolean; onDecide: (id: string, confirmed: boolean) => void }) {
  switch (item.kind) {
    case 'user':
      return (
        <p className="ml-auto w-fit max-w-[85%] rounded-2xl rounded-br-sm bg-brand-600 px-3 py-2 text-white">
          <span className="sr-only">You: </span>
          {item.text}
        </p>
      );
    case 'assistant':
      return (
        <p className="w-fit max-w-[85%] whitespace-pre-wrap rounded-2xl rounded-bl-sm bg-slate-100 px-3 py-2">
          <span className="sr-only">Assistant: </span>
          {item.text}
        </p>
      );
    case 'action':
      return <p className="text-xs text-slate-500">{describeAction(item.action)}…</p>;
    case 'result':
      return (
        <div className="notice notice-ok">
          <p className="font-semibold">{item.summary}</p>
          {item.display && <pre className="mono mt-2 overflow-x-auto whitespace-pre-wrap">{item.display}</pre>}
        </div>
      );
    case 'error':
      return (
        <div className="notice notice-error" role="alert">
          {item.message}
        </div>
      );
    case 'confirm':
      return (
        <div className="notice notice-info space-y-2">
          <p>
            <strong>Please confirm:</strong> {item.summary}
          </p>
          {item.state === 'open' || item.state === 'sent' ? (
            <div className="flex gap-2">
              <Button
                small
                variant="danger"
                disabled={busy}
                busy={item.state === 'sent'}
                busyLabel="Running…"
                onClick={() => onDecide(item.id, true)}
              >
                Confirm
              </Button>
              <Button small variant="secondary" disabled={busy} onClick={() => onDecide(item.id, false)}>
                Cancel
              </Button>
            </div>
          ) : (
            <p className="text-xs text-slate-600">{item.state === 'confirmed' ? 'Confirmed.' : 'Cancelled.'}</p>
          )}
        </div>
      );
  }
}

mount(<SignedInPage title="Chat">{(user) => <Chat user={user} />}</SignedInPage>);
