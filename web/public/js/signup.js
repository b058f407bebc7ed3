// The signup page: posts the form as JSON to /api/signup and says what happens next.
import { describeWait, el, postJson, showNotice } from './api.js';

const form = document.getElementById('signup-form');
const result = document.getElementById('result');
const button = form.querySelector('button[type="submit"]');
const FIELDS = ['email', 'name', 'company', 'migration'];
const query = new URLSearchParams(location.search);

// A link may preselect the plan (?plan=pro) and the migration (?migration=full).
const preset = query.get('migration');
const presetInput = preset && form.querySelector(`input[name="migration"][value="${CSS.escape(preset)}"]`);
if (presetInput) presetInput.checked = true;

function setFieldError(name, message) {
  const error = document.getElementById(`${name}-error`) ?? document.getElementById('form-error');
  error.textContent = message;
  error.hidden = false;
  const input = form.elements.namedItem(name);
  if (input && 'setAttribute' in input) input.setAttribute('aria-invalid', 'true');
}

function clearErrors() {
  for (const node of form.querySelectorAll('.field-error')) {
    node.hidden = true;
    node.textContent = '';
  }
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

function focusFirstInvalid() {
  const first = form.querySelector('[aria-invalid="true"]') ?? form.querySelector('input[name="migration"]:checked');
  first?.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  const data = new FormData(form);
  const email = String(data.get('email') ?? '').trim();
  if (!email || !form.elements.email.checkValidity()) {
    setFieldError('email', 'Enter your email address, like ada@example.com.');
    focusFirstInvalid();
    return;
  }
  const payload = { email, migration: String(data.get('migration') ?? 'fresh') };
  for (const name of ['name', 'company']) {
    const value = String(data.get(name) ?? '').trim();
    if (value) payload[name] = value;
  }
  if (query.get('plan')) payload.plan = query.get('plan');

  button.disabled = true;
  button.textContent = 'Signing up…';
  const answer = await postJson('/api/signup', payload);
  button.disabled = false;
  button.textContent = 'Sign up';

  if (answer.status === 202) {
    form.hidden = true;
    showNotice(
      result,
      'ok',
      'Check your inbox',
      el('p', {}, 'We sent a link to ', el('strong', {}, email), '. Open it to activate your account; it works for 24 hours.'),
      'No mail after a few minutes? Look in your spam folder, or sign up again to get a new link.',
    );
    return;
  }
  if (answer.status === 400 && answer.body?.error?.code === 'validation_failed') {
    const fields = answer.body.error.details?.fields ?? {};
    for (const [name, message] of Object.entries(fields)) setFieldError(FIELDS.includes(name) ? name : 'form', message);
    focusFirstInvalid();
    return;
  }
  if (answer.status === 429) {
    showNotice(result, 'error', 'Too many attempts', `Please try again ${describeWait(answer.retryAfter)}.`);
    return;
  }
  const reference = answer.requestId ? ` (reference ${answer.requestId})` : '';
  showNotice(
    result,
    'error',
    answer.status === 0 ? 'We could not reach the server' : 'Something went wrong',
    answer.body?.error?.message ?? 'Check your connection and try again.',
    reference ? `If it keeps happening, contact us and quote this${reference}.` : '',
  );
});
