/**
 * What the Kubernetes fake refuses and how it says so, per
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ (DNS-1123 labels for
 * namespaces and services, subdomains otherwise; label syntax),
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/ (a selector matching the
 * template's labels, immutable after creation), Service's immutable `clusterIP`, Ingress hosts, and
 * the `Status` error body of https://kubernetes.io/docs/reference/using-api/api-concepts/.
 */
import type { FakeResponse } from './http-server.ts';

type Json = Record<string, any>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** A `Status` failure body, as the API server answers errors. */
export function status(code: number, reason: string, message: string, details: Json = {}): FakeResponse {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code } };
}

/** Why the API server would refuse `body` (422 Invalid), if it would; `existing` for updates. */
export function validate(plural: string, body: Json, existing?: Json): string | undefined {
  const name = body.metadata?.name;
  const nameRule = plural === 'namespaces' || plural === 'services' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (typeof name !== 'string' || !nameRule.test(name))
    return `metadata.name: Invalid value: "${name}": must be a lowercase RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'}`;
  for (const [key, value] of Object.entries((body.metadata.labels ?? {}) as Record<string, string>)) {
    if (!LABEL_VALUE.test(String(value)) || key.split('/').pop()!.length > 63)
      return `metadata.labels: Invalid value: "${value}" for key "${key}"`;
  }
  if (plural === 'deployments') {
    const selector = body.spec?.selector?.matchLabels ?? {};
    const labels = body.spec?.template?.metadata?.labels ?? {};
    if (!Object.keys(selector).length) return 'spec.selector: Required value';
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v))
      return 'spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`';
    if (existing && JSON.stringify(existing.spec.selector) !== JSON.stringify(body.spec.selector))
      return 'spec.selector: Invalid value: field is immutable';
  }
  if (plural === 'services' && existing && body.spec?.clusterIP && body.spec.clusterIP !== existing.spec.clusterIP)
    return 'spec.clusterIP: Invalid value: field is immutable';
  if (plural === 'ingresses') {
    for (const rule of (body.spec?.rules ?? []) as Json[])
      if (rule.host && !DNS_SUBDOMAIN.test(rule.host)) return `spec.rules[0].host: Invalid value: "${rule.host}"`;
  }
  return undefined;
}
