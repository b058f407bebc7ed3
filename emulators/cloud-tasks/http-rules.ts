/**
 * Builds the REST route table from the `google.api.http` options of the
 * loaded service (see google/api/http.proto for the template grammar:
 * `/v2/{name=projects/*\/locations/*}:verb`, `*` = one segment, `**` = any).
 * Nothing here names a Cloud Tasks path: every route comes from the protos.
 */
import type { protobuf } from 'google-gax';

/** One REST binding of an RPC. */
export interface Route {
  rpc: string;
  httpMethod: string;
  pattern: RegExp;
  /** Request field paths (dotted, as in the template) in capture-group order. */
  variables: string[];
  /** `*`, a field name, or '' for no body. */
  body: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

interface HttpRule {
  get?: string;
  post?: string;
  put?: string;
  patch?: string;
  delete?: string;
  custom?: { kind: string; path: string };
  body?: string;
  additional_bindings?: HttpRule | HttpRule[];
  additionalBindings?: HttpRule | HttpRule[];
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function segmentsToRegExp(pattern: string): string {
  return pattern
    .split('/')
    .map((segment) => (segment === '**' ? '.+' : segment === '*' ? '[^/]+' : escapeRegExp(segment)))
    .join('/');
}

/** Compiles one path template into a matcher and its variable list. */
export function compileTemplate(template: string): { pattern: RegExp; variables: string[] } {
  const variables: string[] = [];
  let source = '';
  let rest = template;
  // The verb (":purge") follows the last segment and is matched literally.
  const verbMatch = /:([A-Za-z][\w-]*)$/.exec(template.slice(template.lastIndexOf('}') + 1));
  const verb = verbMatch ? verbMatch[0] : '';
  if (verb) rest = template.slice(0, -verb.length);
  while (rest.length) {
    const open = rest.indexOf('{');
    if (open === -1) {
      source += segmentsToRegExp(rest);
      break;
    }
    source += segmentsToRegExp(rest.slice(0, open));
    const close = rest.indexOf('}', open);
    const [field, sub = '*'] = rest.slice(open + 1, close).split('=');
    variables.push(field);
    source += `(${segmentsToRegExp(sub)})`;
    rest = rest.slice(close + 1);
  }
  return { pattern: new RegExp(`^${source}${escapeRegExp(verb)}$`), variables };
}

function bindingsOf(rule: HttpRule): HttpRule[] {
  const extra = rule.additional_bindings ?? rule.additionalBindings ?? [];
  return [rule, ...(Array.isArray(extra) ? extra : [extra])];
}

/** All REST routes of a protobufjs service, custom-verb routes first so they win. */
export function buildRoutes(service: protobuf.Service): Route[] {
  const routes: Route[] = [];
  for (const method of Object.values(service.methods)) {
    method.resolve();
    const rule = (method.parsedOptions ?? []).find((o: Record<string, unknown>) => '(google.api.http)' in o)?.['(google.api.http)'] as
      | HttpRule
      | undefined;
    if (!rule) continue;
    for (const binding of bindingsOf(rule)) {
      const verbs = ['get', 'post', 'put', 'patch', 'delete'] as const;
      const verb = verbs.find((v) => binding[v]);
      const httpMethod = verb ? verb.toUpperCase() : binding.custom?.kind.toUpperCase();
      const template = verb ? binding[verb]! : binding.custom?.path;
      if (!httpMethod || !template) continue;
      const { pattern, variables } = compileTemplate(template);
      routes.push({
        rpc: method.name,
        httpMethod,
        pattern,
        variables,
        body: binding.body ?? '',
        requestType: method.resolvedRequestType!,
        responseType: method.resolvedResponseType!,
      });
    }
  }
  return routes.sort((a, b) => Number(/:\w+\$$/.test(b.pattern.source)) - Number(/:\w+\$$/.test(a.pattern.source)));
}
