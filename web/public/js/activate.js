// The activation page: exchanges the token from the mail link for an account and a sign-in token, then offers "Launch".
import { describeWait, el, postJson } from './api.js';

/** Where the launch page (and later pages) find the Firebase custom token to sign in with. */
export const SESSION_KEY = 'tenantplane.session';

const title = document.getElementById('title');
const result = document.getElementById('result');
const actions = document.getElementById('actions');

const token = new URLSearchParams(location.search).get('token');
// Keep the one-time token out of the history and of anything the page loads later.
if (token) history.replaceState(null, '', location.pathname);

/** Shows the outcome: the heading names it (and takes focus), the notice explains, the links say what to do next. */
function finish(heading, kind, message, ...links) {
  title.textContent = heading;
  document.title = `${heading} · tenantplane`;
  result.setAttribute('aria-busy', 'false');
  const lines = message.filter(Boolean).map((line) => (typeof line === 'string' ? el('p', {}, line) : line));
  result.replaceChildren(el('div', { class: `notice ${kind}` }, ...lines));
  actions.replaceChildren(...links);
  actions.hidden = links.length === 0;
  title.focus();
}

const signUpAgain = (label = 'Sign up again') => el('a', { href: '/signup.html', class: 'button' }, label);

async function activate() {
  if (!token) {
    finish('No activation link', 'error', ['Open this page from the link in your activation email.'], signUpAgain('Sign up'));
    return;
  }
  const answer = await postJson('/api/activate', { token });
  const message = answer.body?.error?.message;
  switch (answer.status) {
    case 200: {
      const { uid, email, customToken, next } = answer.body;
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ uid, email, customToken, at: Date.now() }));
      const launch = el('a', { href: next || '/launch.html', class: 'button', id: 'launch' }, 'Launch');
      finish('Your account is active', 'ok', [el('p', {}, 'Welcome, ', el('strong', {}, email), '. Press Launch to create your environment.')], launch);
      launch.focus();
      return;
    }
    case 410:
      finish('This link has expired', 'error', ['Activation links work for 24 hours. Sign up again and we will send you a new one.'], signUpAgain());
      return;
    case 409:
      finish('Already activated', 'ok', ['This link was already used, so your account is already active. To sign in again, sign up with the same address and we will mail you a sign-in link.'], signUpAgain('Get a sign-in link'));
      return;
    case 400:
      finish('This link is not valid', 'error', ['It may be incomplete, or replaced by a newer link we sent you. Use the newest email, or sign up again.'], signUpAgain());
      return;
    case 429:
      finish('Too many attempts', 'error', [`Please try again ${describeWait(answer.retryAfter)}.`]);
      return;
    default: {
      const retry = el('button', { type: 'button' }, 'Try again');
      retry.addEventListener('click', () => location.replace(`${location.pathname}?token=${encodeURIComponent(token)}`));
      const reference = answer.requestId ? `If it keeps happening, contact us and quote reference ${answer.requestId}.` : '';
      finish(answer.status === 0 ? 'We could not reach the server' : 'We could not activate your account yet', 'error', [message ?? 'Check your connection and try again.', reference], retry);
    }
  }
}

activate();
