import test from 'ava';
import { buildActivationLink, escapeHtml, renderAccountExistsMail, renderActivationMail } from './templates.ts';

const token = 'ab'.repeat(32);
const link = buildActivationLink('https://app.example.com/', token);

test('the link points at the activation page with the token', (t) => {
  t.is(link, `https://app.example.com/activate.html?token=${token}`);
});

test('the activation mail carries the link in text and HTML and says how long it lasts', (t) => {
  const mail = renderActivationMail({ to: 'a@example.com', name: 'Ada', link, ttlHours: 24 });
  t.is(mail.to, 'a@example.com');
  t.true(mail.text.includes(link));
  t.true(mail.html.includes(`href="${link}"`));
  t.regex(mail.text, /expires in 24 hours/);
  t.regex(mail.text, /^Hello Ada,/);
});

test('what a visitor typed is escaped in HTML and kept off the subject', (t) => {
  const name = '<script>alert(1)</script>';
  const company = '"><img src=x onerror=alert(1)>';
  for (const render of [renderActivationMail, renderAccountExistsMail]) {
    const mail = render({ to: 'a@example.com', name, company, link, ttlHours: 24 });
    t.false(mail.html.includes('<script>'));
    t.false(mail.html.includes('<img'));
    t.true(mail.html.includes('&lt;script&gt;'));
    t.false(mail.subject.includes('script'));
  }
});

test('the mail for an existing account is a sign-in mail with a sign-in link', (t) => {
  const mail = renderAccountExistsMail({ to: 'a@example.com', link, ttlHours: 24 });
  t.regex(mail.subject, /sign-in link/);
  t.regex(mail.text, /link to sign in/);
  t.regex(mail.text, /you already have an account/);
  t.notRegex(mail.text, /signed up/);
  t.regex(mail.html, /Sign in/);
  t.true(mail.text.includes(link));
  t.notRegex(mail.text, /activate your account/i);
});

test('escapeHtml covers the five special characters', (t) => {
  t.is(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
