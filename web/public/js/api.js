// Calls to the platform's JSON API from the public pages.

/**
 * POSTs JSON and returns { status, body, requestId, retryAfter }; a network
 * failure comes back as status 0 so pages show one message for it.
 */
export async function postJson(path, payload) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(payload),
    });
  } catch {
    return { status: 0, body: null, requestId: null, retryAfter: null };
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return {
    status: res.status,
    body,
    requestId: res.headers.get('X-Request-Id'),
    retryAfter: Number(res.headers.get('Retry-After')) || null,
  };
}

/** "in 3 minutes" / "in 40 seconds" for a Retry-After value. */
export function describeWait(seconds) {
  if (!seconds) return 'later';
  if (seconds < 90) return `in ${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 90 ? `in ${minutes} minutes` : `in ${Math.ceil(minutes / 60)} hours`;
}

/** Builds an element with text (never HTML) and optional attributes/children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Replaces a region's content with a notice, and moves focus to it so screen readers and keyboards follow. */
export function showNotice(region, kind, title, ...lines) {
  const heading = el('p', { tabindex: '-1' }, el('strong', {}, title));
  const notice = el('div', { class: `notice ${kind}` }, heading, ...lines.filter(Boolean).map((line) => (typeof line === 'string' ? el('p', {}, line) : line)));
  region.replaceChildren(notice);
  heading.focus();
  return notice;
}
