/**
 * The official request and response schemas of Google's REST APIs, read from
 * the message files the gcloud SDK generates from each API's discovery document
 * (`lib/googlecloudsdk/generated_clients/apis/<api>/<version>/<api>_<version>_messages.py`).
 * Enough of them to check a JSON body: each message's field names, whether a
 * field is a message (and which), repeated, or a map (`additionalProperties`),
 * and whether its documentation says "Required.". Tests use it to prove that
 * what a driver sends is what the API defines; a field the schema does not know
 * is refused by the real API ("Invalid JSON payload received. Unknown name").
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the SDK keeps the generated clients; GCLOUD_SDK_ROOT overrides the Debian location. */
export const SDK_ROOT = process.env.GCLOUD_SDK_ROOT ?? '/usr/lib/google-cloud-sdk';

export interface SchemaField {
  kind: 'message' | 'enum' | 'string' | 'integer' | 'number' | 'boolean' | 'bytes';
  /** For messages and enums: the resolved class name (nested classes as `Outer.Inner`). */
  type?: string;
  repeated: boolean;
  /** The field's documentation starts with "Required." */
  required: boolean;
}

export interface SchemaMessage {
  name: string;
  fields: Map<string, SchemaField>;
  /** A map type: any key, each value a `value` field. */
  isMap: boolean;
}

export type Schema = Map<string, SchemaMessage>;

/** The messages file of `api`/`version`, or undefined when the SDK is not installed. */
export function messagesFile(api: string, version: string, root = SDK_ROOT): string | undefined {
  const file = join(root, 'lib/googlecloudsdk/generated_clients/apis', api, version, `${api}_${version}_messages.py`);
  return existsSync(file) ? file : undefined;
}

const KINDS: Record<string, SchemaField['kind']> = {
  MessageField: 'message',
  EnumField: 'enum',
  StringField: 'string',
  IntegerField: 'integer',
  FloatField: 'number',
  BooleanField: 'boolean',
  BytesField: 'bytes',
};

/** Parses a generated `_messages.py` file. */
export function parseMessages(source: string): Schema {
  const schema: Schema = new Map();
  // Open classes by indentation, so nested classes (LimitsValue, AdditionalProperty) get qualified names.
  const stack: {
    indent: number;
    name: string;
    docs: Map<string, string>;
    pending: { name: string; kind: SchemaField['kind']; type?: string; repeated: boolean }[];
  }[] = [];
  const lines = source.split('\n');
  const close = (indent: number) => {
    while (stack.length && stack.at(-1)!.indent >= indent) {
      const open = stack.pop()!;
      const message: SchemaMessage = { name: open.name, fields: new Map(), isMap: false };
      for (const field of open.pending) {
        const type = field.type ? resolve(field.type, open.name) : undefined;
        message.fields.set(field.name, {
          kind: field.kind,
          type,
          repeated: field.repeated,
          required: /^Required\b/.test(open.docs.get(field.name) ?? ''),
        });
      }
      message.isMap = message.fields.size === 1 && message.fields.has('additionalProperties');
      schema.set(open.name, message);
    }
  };
  // A nested class is referred to by its short name from inside its outer class.
  const nested = new Set<string>();
  const resolve = (type: string, scope: string) => {
    for (let parts = scope.split('.'); parts.length > 0; parts.pop()) {
      const candidate = `${parts.join('.')}.${type}`;
      if (nested.has(candidate)) return candidate;
    }
    return type;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const cls = /^(\s*)class (\w+)\(_messages\.(Message|Enum)\):/.exec(line);
    if (cls) {
      const indent = cls[1].length;
      close(indent);
      const name = stack.length ? `${stack.at(-1)!.name}.${cls[2]}` : cls[2];
      if (stack.length) nested.add(name);
      const docs = new Map<string, string>();
      // The docstring's "Fields:" section: `    name: text` continued by deeper-indented lines.
      let j = i + 1;
      if (/r?"""/.test(lines[j] ?? '')) {
        let current: string | undefined;
        let inFields = false;
        for (; j < lines.length; j++) {
          const doc = lines[j];
          if (/^\s*Fields:\s*$/.test(doc)) {
            inFields = true;
            continue;
          }
          const entry = inFields ? /^\s{4}(\w+): ?(.*)$/.exec(doc.slice(indent)) : null;
          if (entry) {
            current = entry[1];
            docs.set(current, entry[2]);
          } else if (inFields && current && doc.trim() && !doc.includes('"""')) docs.set(current, `${docs.get(current)} ${doc.trim()}`);
          if (j > i + 1 && doc.includes('"""')) break;
        }
      }
      stack.push({ indent, name, docs, pending: [] });
      if (cls[3] === 'Enum') stack.at(-1)!.pending = [];
      continue;
    }
    const field = /^(\s*)(\w+) = _messages\.(\w+)\((?:'([\w.]+)', )?\d+(.*)\)\s*$/.exec(line);
    if (field && stack.length) {
      const indent = field[1].length;
      close(indent);
      const kind = KINDS[field[3]];
      if (kind && stack.length)
        stack.at(-1)!.pending.push({ name: field[2], kind, type: field[4], repeated: /repeated=True/.test(field[5]) });
      continue;
    }
    const code = /^(\S)/.exec(line);
    if (code && !line.startsWith('class ')) close(0);
  }
  close(0);
  return schema;
}

/** Reads and parses the schema of `api`/`version`; undefined when the SDK is missing. */
export function loadSchema(api: string, version: string, root = SDK_ROOT): Schema | undefined {
  const file = messagesFile(api, version, root);
  return file ? parseMessages(readFileSync(file, 'utf8')) : undefined;
}

/**
 * What the API would refuse in `body` sent as message `type`: fields the
 * schema does not define ("unknown field a.b.c") and required fields left out
 * ("missing required field a.b"). Scalars are not type-checked: proto3 JSON
 * writes int64, Timestamp and Duration as strings, the gRPC clients as objects.
 */
export function schemaProblems(schema: Schema, type: string, body: unknown, path = ''): string[] {
  const message = schema.get(type);
  if (!message) return [`${path || type}: message ${type} is not in the schema`];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [`${path || type}: expected an object for ${type}`];
  const problems: string[] = [];
  const at = (key: string) => (path ? `${path}.${key}` : key);
  if (message.isMap) {
    const value = message.fields.get('additionalProperties')!;
    const entry = value.type ? schema.get(value.type) : undefined;
    const valueField = entry?.fields.get('value');
    if (valueField?.kind === 'message' && valueField.type) {
      for (const [key, item] of Object.entries(body)) problems.push(...schemaProblems(schema, valueField.type, item, at(key)));
    }
    return problems;
  }
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (value === undefined) continue;
    const field = message.fields.get(key);
    if (!field) {
      problems.push(`unknown field ${at(key)} (${type} has: ${[...message.fields.keys()].join(', ')})`);
      continue;
    }
    if (field.kind !== 'message' || !field.type || value === null) continue;
    const target = schema.get(field.type);
    // Well-known types the SDK maps to plain messages with no fields (e.g. Any, Struct) take anything.
    if (!target || (target.fields.size === 0 && !target.isMap)) continue;
    if (field.repeated) {
      if (!Array.isArray(value)) problems.push(`${at(key)}: expected an array`);
      else value.forEach((item, i) => problems.push(...schemaProblems(schema, field.type!, item, `${at(key)}[${i}]`)));
    } else {
      problems.push(...schemaProblems(schema, field.type, value, at(key)));
    }
  }
  for (const [key, field] of message.fields) {
    const value = (body as Record<string, unknown>)[key];
    if (field.required && (value === undefined || value === null || value === '')) problems.push(`missing required field ${at(key)}`);
  }
  return problems;
}
