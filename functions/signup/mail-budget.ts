const MINUTE = 60_000;
const DAY = 24 * 3_600_000;

export interface MailBudget {
  /** Mails per address in any 60 s. */
  perMinute: number;
  /** Mails per address in any 24 h. */
  perDay: number;
}

export type MailDecision = { send: true; mailTimes: Date[] } | { send: false; reason: 'per_minute' | 'per_day'; mailTimes: Date[] };

/**
 * The anti mail-bombing rule (R-SIGNUP-7), a sliding window over the times
 * mails were queued for one address: `mailTimes` is pruned to the last 24 h
 * and, when a mail may go, gets `now` appended.
 */
export function decideMail(previous: Date[], now: Date, budget: MailBudget): MailDecision {
  const t = now.getTime();
  const recent = previous.filter((d) => d.getTime() > t - DAY && d.getTime() <= t);
  if (recent.filter((d) => d.getTime() > t - MINUTE).length >= budget.perMinute) {
    return { send: false, reason: 'per_minute', mailTimes: recent };
  }
  if (recent.length >= budget.perDay) return { send: false, reason: 'per_day', mailTimes: recent };
  return { send: true, mailTimes: [...recent, now] };
}
