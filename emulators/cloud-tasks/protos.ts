/**
 * Loads the Cloud Tasks v2 service definition from the protos that ship with
 * `@google-cloud/tasks`, using the grpc-js and proto-loader copies that
 * google-gax itself uses: the client rejects channel credentials made by a
 * second grpc-js copy, so the server side stays on the same one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { grpc, protobuf } from 'google-gax';
import type * as ProtoLoader from '@grpc/proto-loader';

const requireHere = createRequire(import.meta.url);
// Resolve proto-loader from google-gax's own location so a hoisting change
// cannot hand us a different copy than the one the client loads.
const requireFromGax = createRequire(requireHere.resolve('google-gax'));
const protoLoader = requireFromGax('@grpc/proto-loader') as typeof ProtoLoader;

/** The fully qualified service name served by the emulator. */
export const SERVICE_NAME = 'google.cloud.tasks.v2.CloudTasks';

/**
 * Options shared by the gRPC deserializer and the REST transcoder so both
 * hand the API layer identical plain objects (camelCase, enums as names,
 * int64 as strings, bytes as Buffer).
 */
export const OBJECT_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
} as const;

/** Path of the protos directory inside the installed `@google-cloud/tasks`. */
export function findTasksProtosDir(): string {
  // build/cjs/src/index.cjs -> package root
  const entry = requireHere.resolve('@google-cloud/tasks');
  return join(dirname(entry), '..', '..', 'protos');
}

interface LoadedProtos {
  /** grpc-js service definition for `server.addService`. */
  service: ProtoLoader.ServiceDefinition;
  /** protobufjs root, used by the REST transcoder for JSON mapping. */
  root: protobuf.Root;
}

let cached: LoadedProtos | undefined;

/** Loads (once) the gRPC service definition and the protobufjs root. */
export function loadTasksProtos(): LoadedProtos {
  if (cached) return cached;
  const json = JSON.parse(readFileSync(join(findTasksProtosDir(), 'protos.json'), 'utf8'));
  const definition = protoLoader.fromJSON(json, OBJECT_OPTIONS);
  const service = definition[SERVICE_NAME] as ProtoLoader.ServiceDefinition | undefined;
  if (!service) throw new Error(`${SERVICE_NAME} is missing from @google-cloud/tasks protos.json; is the package installed intact?`);
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  cached = { service, root };
  return cached;
}

export { grpc };
