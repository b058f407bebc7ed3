/**
 * Serves {@link TasksApi} as `google.cloud.tasks.v2.CloudTasks` over gRPC
 * with the grpc-js copy google-gax uses.
 */
import { ApiError, toApiError } from './api-error.ts';
import { UNIMPLEMENTED_METHODS, type TasksApi } from './api.ts';
import { grpc, loadTasksProtos } from './protos.ts';

type Handler = (call: { request: Record<string, unknown> }, callback: (error: unknown, value?: unknown) => void) => void;

/** Starts a gRPC server for the API on host:port (0 = a free port). */
export async function startGrpcServer(
  api: TasksApi,
  host: string,
  port: number,
): Promise<{ server: InstanceType<typeof grpc.Server>; port: number }> {
  const { service } = loadTasksProtos();
  const handlers: Record<string, Handler> = {};
  for (const method of Object.keys(service)) {
    handlers[method] = (call, callback) => {
      const run = UNIMPLEMENTED_METHODS.includes(method)
        ? Promise.reject(
            new ApiError('UNIMPLEMENTED', `${method} is not implemented by the local Cloud Tasks server: it does not model IAM.`),
          )
        : (api as unknown as Record<string, (r: unknown) => Promise<unknown>>)[method](call.request);
      run.then(
        (value) => callback(null, value),
        (error) => {
          const apiError = toApiError(error);
          callback({ code: apiError.code, details: apiError.message });
        },
      );
    };
  }
  const server = new grpc.Server();
  server.addService(service as never, handlers as never);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) =>
      error ? reject(error) : resolve(actual),
    );
  });
  return { server, port: bound };
}

/** Stops accepting calls, lets running ones finish briefly, then forces shutdown. */
export async function stopGrpcServer(server: InstanceType<typeof grpc.Server>): Promise<void> {
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
