/**
 * Workloads are started by a small helper process, not by the control plane
 * itself (issue 19): `spawn()` forks the calling process, and a fork costs in
 * proportion to the memory it maps. The control plane maps hundreds of MiB
 * (gRPC, Firestore, every function), so each start held its one event loop
 * for 10–16 ms, 1.6 s of a burst of 100 launches; the helper, a bare `node`,
 * forks in about 2 ms, on the other core.
 *
 * The helper is `node -e SPAWNER_MAIN` with an IPC channel and an empty
 * environment. It is started on first use, one per control-plane process, and
 * never keeps that process alive. Per start it opens the log files, spawns the
 * workload detached (its own process group, as the given uid and gid), and
 * answers its pid; it reports each workload's exit; for a held start
 * (hold.ts) it keeps the pipe to the workload's descriptor 3 and writes what
 * the control plane releases. It exits when the control plane goes (its
 * channel closes), which closes the held pipes, so held workloads exit too,
 * as they did when the control plane held the pipes itself; started workloads
 * keep running and logging. If the helper dies, the next start makes another;
 * the exits of the workloads it started are then no longer seen, and callers
 * fall back on /proc as for a restarted control plane.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** The helper's program. Messages in: {start: {...}} and {release: id, data?}; out: {id, pid} or {id, error}, and {exit: id, code, signal}. */
export const SPAWNER_MAIN = [
  "const {spawn}=require('node:child_process'),fs=require('node:fs'),path=require('node:path'),held=new Map();",
  "process.on('disconnect',()=>process.exit(0));",
  'const send=(m)=>{try{process.send(m)}catch{process.exit(0)}};',
  "process.on('message',(m)=>{",
  "if(m.release!==undefined){const s=held.get(m.release);held.delete(m.release);if(s)typeof m.data==='string'?s.end(m.data):s.end();return}",
  'const r=m.start;let out,err;',
  'try{',
  'fs.mkdirSync(r.logDir,{recursive:true,mode:0o700});',
  "out=fs.openSync(path.join(r.logDir,'stdout.log'),'a',0o600);err=fs.openSync(path.join(r.logDir,'stderr.log'),'a',0o600);",
  "const c=spawn(r.file,r.args,{cwd:r.cwd,env:r.env,detached:true,stdio:r.hold?['ignore',out,err,'pipe']:['ignore',out,err],uid:r.uid,gid:r.gid});",
  "c.once('spawn',()=>{if(r.hold){const s=c.stdio[3];s.on('error',()=>{});held.set(r.id,s)}send({id:r.id,pid:c.pid})});",
  "c.once('error',(e)=>send({id:r.id,error:e.message}));",
  "c.once('exit',(code,signal)=>{const s=held.get(r.id);held.delete(r.id);if(s)s.destroy();send({exit:r.id,code,signal})});",
  '}catch(e){send({id:r.id,error:e.message})}',
  'finally{if(out!==undefined)fs.closeSync(out);if(err!==undefined)fs.closeSync(err)}',
  '});',
].join('');

export interface StartRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  logDir: string;
  uid?: number;
  gid?: number;
  hold?: boolean;
}

/** What the control plane sees of a workload the helper started: its exit, as a ChildProcess would show it. */
export class SpawnedChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private refd = false;
  constructor(
    readonly pid: number,
    private readonly helper: Helper,
  ) {
    super();
  }
  /** Keeps this process alive until the workload exits (the driver never does; a test waiting for an exit does). */
  ref(): void {
    if (this.refd || this.exited()) return;
    this.refd = true;
    this.helper.hold(1);
  }
  unref(): void {
    if (!this.refd) return;
    this.refd = false;
    this.helper.hold(-1);
  }
  exited(): boolean {
    return this.exitCode !== null || this.signalCode !== null;
  }
  /** Called by the helper's report. */
  ended(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitCode = code;
    this.signalCode = signal;
    this.unref();
    this.emit('exit', code, signal);
  }
}

/** The write end of a held workload's descriptor 3, kept by the helper. */
export interface HeldInput {
  readonly writable: boolean;
  /** Writes `data` (when given) and closes the pipe. */
  end(data?: string): void;
}

interface Helper {
  hold(delta: number): void;
}

interface Running extends Helper {
  process: ChildProcess;
  nextId: number;
  pending: Map<number, { resolve: (child: SpawnedChild) => void; reject: (error: Error) => void }>;
  children: Map<number, SpawnedChild>;
  gone: boolean;
}

let current: Running | undefined;

function startHelper(): Running {
  const proc = spawn(process.execPath, ['-e', SPAWNER_MAIN], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: {} });
  let holds = 0;
  const helper: Running = {
    process: proc,
    nextId: 1,
    pending: new Map(),
    children: new Map(),
    gone: false,
    /** The channel keeps this process alive only while a start is answered or a caller waits for an exit. */
    hold(delta: number) {
      holds += delta;
      if (helper.gone) return;
      if (holds + helper.pending.size > 0) proc.channel?.ref();
      else proc.channel?.unref();
    },
  };
  proc.unref();
  proc.channel?.unref();
  proc.on(
    'message',
    (m: { id?: number; pid?: number; error?: string; exit?: number; code?: number | null; signal?: NodeJS.Signals | null }) => {
      if (m.exit !== undefined) {
        const child = helper.children.get(m.exit);
        helper.children.delete(m.exit);
        child?.ended(m.code ?? null, m.signal ?? null);
        return;
      }
      const waiting = helper.pending.get(m.id!);
      if (!waiting) return;
      helper.pending.delete(m.id!);
      helper.hold(0);
      if (m.error !== undefined) return waiting.reject(new Error(m.error));
      // Registered before the caller resumes: its exit may be the very next message.
      const child = new SpawnedChild(m.pid!, helper);
      helper.children.set(m.id!, child);
      waiting.resolve(child);
    },
  );
  const lost = (why: string) => {
    if (helper.gone) return;
    helper.gone = true;
    if (current === helper) current = undefined;
    for (const { reject } of helper.pending.values()) reject(new Error(`the local runtime's process starter ${why}`));
    helper.pending.clear();
  };
  proc.on('error', (error) => lost(`could not run: ${error.message}`));
  proc.on('exit', (code, signal) => lost(`exited (${signal ?? `code ${code}`})`));
  return helper;
}

/**
 * Starts a workload through the helper. Resolves once it runs (as `spawn`'s
 * `spawn` event), with its pid, its exit as `child` and, with `hold`, the pipe
 * to its descriptor 3 as `input`. @throws Error with the reason when it could not start.
 */
export async function spawnThroughHelper(request: StartRequest): Promise<{ pid: number; child: SpawnedChild; input?: HeldInput }> {
  const helper = (current ??= startHelper());
  const id = helper.nextId++;
  const child = await new Promise<SpawnedChild>((resolve, reject) => {
    helper.pending.set(id, { resolve, reject });
    helper.hold(0);
    helper.process.send({ start: { ...request, id } }, (error) => {
      if (!error) return;
      helper.pending.delete(id);
      helper.hold(0);
      reject(error);
    });
  });
  const pid = child.pid;
  if (!request.hold) return { pid, child };
  let open = true;
  const input: HeldInput = {
    get writable() {
      return open && !helper.gone && !child.exited();
    },
    end(data) {
      if (!open) return;
      open = false;
      if (!helper.gone) helper.process.send({ release: id, ...(data === undefined ? {} : { data }) }, () => undefined);
    },
  };
  return { pid, child, input };
}

/** The helper's pid while one runs (diagnostics and tests). */
export function starterPid(): number | undefined {
  return current?.gone === false ? current.process.pid : undefined;
}
