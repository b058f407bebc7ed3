/** The chat (R-CHAT-1…4): streamed replies, action results, and confirmation buttons for destructive actions. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { describeError } from './lib/errors.ts';
import { postEventStream, type SseMessage } from './lib/sse.ts';
import { Button, Spinner } from './ui/controls.tsx';
import { SignedInPage, mount } from './ui/layout.tsx';

type Item =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; text: string }
  | { kind: 'action'; action: string }
  | { kind: 'result'; action: string; summary: string; display?: string }
  | { kind: 'confirm'; id: string; action: string; summary: string; state: 'open' | 'confirmed' | 'cancelled' }
  | { kind: 'error'; message: string };

const CONVERSATION_KEY = 'tenantplane.conversation';
const EXAMPLES = ['list my sites', 'create a site called shop', 'status of shop', 'what did shop cost this month'];

function Chat() {
  const [items, setItems] = useState<Item[]>([]);
  const [busy, setBusy] = useState(false);
  const [conversationId, setConversationId] = useState<string | undefined>(() => sessionStorage.getItem(CONVERSATION_KEY) ?? undefined);
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
      return last?.kind === 'assistant' ? [...all.slice(0, -1), { ...last, text: last.text + text }] : [...all, { kind: 'assistant', text }];
    });

  function onEvent(m: SseMessage) {
    const data = JSON.parse(m.data || '{}');
    switch (m.event) {
      case 'text': return appendText(data.text ?? '');
      case 'action': return push({ kind: 'action', action: data.action });
      case 'result': return push({ kind: 'result', action: data.action, summary: data.summary, display: data.display });
      case 'confirmation_required': return push({ kind: 'confirm', id: data.id, action: data.action, summary: data.summary, state: 'open' });
      case 'error': return push({ kind: 'error', message: data.error?.message ?? 'Something went wrong.' });
      case 'done':
        if (data.conversationId) {
          setConversationId(data.conversationId);
          sessionStorage.setItem(CONVERSATION_KEY, data.conversationId);
        }
    }
  }

  async function turn(body: Record<string, unknown>) {
    setBusy(true);
    try {
      await postEventStream('/api/chat', { ...body, ...(conversationId ? { conversationId } : {}) }, onEvent);
    } catch (err) {
      push({ kind: 'error', message: describeError(err) });
    } finally {
      setBusy(false);
      input.current?.focus();
    }
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
    setItems((all) => all.map((x) => (x.kind === 'confirm' && x.id === id ? { ...x, state: confirmed ? 'confirmed' : 'cancelled' } : x)));
    if (confirmed) void turn({ confirm: id });
    else push({ kind: 'assistant', text: 'Cancelled: nothing was changed.' });
  }

  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h1>Chat</h1>
        <Button small variant="secondary" onClick={() => { sessionStorage.removeItem(CONVERSATION_KEY); setConversationId(undefined); setItems([]); }}>New conversation</Button>
      </div>
      <div role="log" aria-live="polite" aria-label="Conversation" className="card min-h-64 space-y-3">
        {items.length === 0 && (
          <div className="text-sm text-slate-600">
            <p>Ask me to manage your sites. For example:</p>
            <ul className="mt-2 flex flex-wrap gap-2">
              {EXAMPLES.map((x) => <li key={x}><button type="button" className="btn btn-secondary btn-small" onClick={() => { input.current!.value = x; input.current!.focus(); }}>{x}</button></li>)}
            </ul>
          </div>
        )}
        {items.map((item, i) => <ChatItem key={i} item={item} busy={busy} onDecide={decide} />)}
        {busy && <Spinner label="Working…" />}
        <div ref={end} />
      </div>
      <form onSubmit={send} className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <div className="flex-1">
          <label htmlFor="chat-message" className="label">Message</label>
          <textarea id="chat-message" ref={input} rows={2} maxLength={4000} className="input resize-y" placeholder="create a site called shop"
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } }} />
        </div>
        <Button type="submit" busy={busy} busyLabel="Sending…">Send</Button>
      </form>
    </div>
  );
}

function ChatItem({ item, busy, onDecide }: { item: Item; busy: boolean; onDecide: (id: string, confirmed: boolean) => void }) {
  switch (item.kind) {
    case 'user':
      return <p className="ml-auto w-fit max-w-[85%] rounded-2xl rounded-br-sm bg-brand-600 px-3 py-2 text-white"><span className="sr-only">You: </span>{item.text}</p>;
    case 'assistant':
      return <p className="w-fit max-w-[85%] whitespace-pre-wrap rounded-2xl rounded-bl-sm bg-slate-100 px-3 py-2"><span className="sr-only">Assistant: </span>{item.text}</p>;
    case 'action':
      return <p className="text-xs text-slate-500">Running {item.action}…</p>;
    case 'result':
      return (
        <div className="notice notice-ok">
          <p className="font-semibold">{item.summary}</p>
          {item.display && <pre className="mono mt-2 overflow-x-auto whitespace-pre-wrap">{item.display}</pre>}
        </div>
      );
    case 'error':
      return <div className="notice notice-error" role="alert">{item.message}</div>;
    case 'confirm':
      return (
        <div className="notice notice-info space-y-2">
          <p><strong>Please confirm:</strong> {item.summary}</p>
          {item.state === 'open' ? (
            <div className="flex gap-2">
              <Button small variant="danger" disabled={busy} onClick={() => onDecide(item.id, true)}>Confirm</Button>
              <Button small variant="secondary" disabled={busy} onClick={() => onDecide(item.id, false)}>Cancel</Button>
            </div>
          ) : <p className="text-xs text-slate-600">{item.state === 'confirmed' ? 'Confirmed.' : 'Cancelled.'}</p>}
        </div>
      );
  }
}

mount(<SignedInPage title="Chat">{() => <Chat />}</SignedInPage>);
