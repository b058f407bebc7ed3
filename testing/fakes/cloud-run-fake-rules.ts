/**
 * What the Cloud Run Admin API v2 refuses in a Service, beyond its shape, as
 * the documentation states it (the fake answers INVALID_ARGUMENT with these
 * messages):
 * - container contract (https://cloud.google.com/run/docs/container-contract#env-vars):
 *   `PORT`, `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION` are set by Cloud Run
 *   and may not be set by the caller; env names are unique, non-empty, without
 *   `=`, and an entry has a `value` or a `valueSource`, not both;
 * - labels (https://cloud.google.com/run/docs/configuring/labels): lowercase
 *   keys and values (google-rest.ts `invalidLabel`), on the service and on the
 *   revision template; system annotations (`run.googleapis.com/*`, the Knative
 *   prefixes) are refused in v2, which has fields for them;
 * - resources (run_v2_messages.py, ResourceRequirements.cpuIdle): "if
 *   ResourceRequirements is set, the caller must explicitly set this field to
 *   true to preserve the default behavior" — left out, CPU is always allocated
 *   and billed per instance. That is not an error, so the fake records it:
 *   {@link cpuAlwaysAllocated}.
 */
import { invalidLabel } from './google-rest.ts';

type Json = Record<string, any>;

/** Env names the Cloud Run container contract reserves for itself. */
export const CLOUD_RUN_RESERVED_ENV = ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'] as const;

const SYSTEM_ANNOTATION = /^(run\.googleapis\.com|cloud\.googleapis\.com|serving\.knative\.dev|autoscaling\.knative\.dev)\//;

/** The INVALID_ARGUMENT message Cloud Run answers for `service`, or undefined when it accepts it. */
export function serviceRuleViolation(service: Json): string | undefined {
  for (const [where, labels] of [
    ['labels', service.labels],
    ['template.labels', service.template?.labels],
  ] as const) {
    const bad = invalidLabel(labels);
    if (bad)
      return `Invalid ${bad} in ${where}: keys and values are lowercase letters, digits, '_' and '-', keys start with a letter, at most 63 characters.`;
  }
  for (const [where, annotations] of [
    ['annotations', service.annotations],
    ['template.annotations', service.template?.annotations],
  ] as const) {
    const system = Object.keys(annotations ?? {}).find((key) => SYSTEM_ANNOTATION.test(key));
    if (system) return `${where}: setting the system annotation ${system} is not supported in v2; use the corresponding field.`;
  }
  const containers = (service.template?.containers ?? []) as Json[];
  for (const [index, container] of containers.entries()) {
    const where = `spec.template.spec.containers[${index}].env`;
    const env = (container.env ?? []) as Json[];
    const names = env.map((entry) => String(entry.name ?? ''));
    const reserved = names.filter((name) => (CLOUD_RUN_RESERVED_ENV as readonly string[]).includes(name));
    if (reserved.length)
      return `${where}: The following reserved env names were provided: ${reserved.join(', ')}. These values are automatically set by the system.`;
    const empty = names.findIndex((name) => name === '' || name.includes('='));
    if (empty >= 0) return `${where}[${empty}].name: must be non-empty and must not contain '='.`;
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate) return `${where}: Duplicate env var name ${duplicate}.`;
    const both = env.findIndex((entry) => entry.value !== undefined && entry.value !== '' && entry.valueSource);
    if (both >= 0) return `${where}[${both}]: value and valueSource are mutually exclusive.`;
  }
  return undefined;
}

/** True when a container of the service would have CPU allocated all the time: resources set without `cpuIdle: true`. */
export function cpuAlwaysAllocated(service: Json): boolean {
  return ((service.template?.containers ?? []) as Json[]).some((container) => container.resources && container.resources.cpuIdle !== true);
}
