/**
 * The one conformance suite every runtime driver runs (pattern: unjs/unstorage
 * `testDriver`). A driver's test file calls {@link testDriverConformance} with a
 * setup that creates the driver (against real processes or a faithful fake of
 * its cloud API); the suite then checks the behaviour the provision worker and
 * the API rely on. Capabilities a driver lacks (`flags`) are skipped, never faked.
 */
import type { ExecutionContext, TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import type { DriverFlags, EnvironmentRef, EnvironmentSpec, RuntimeDriver } from '../shared/runtime/types.ts';

/** What a driver's test file provides for one run of the suite. */
export interface ConformanceHarness {
  driver: RuntimeDriver;
  /** A deployable spec for `ref` (the driver's own kind of image); overrides win. */
  makeSpec(ref: EnvironmentRef, overrides?: Partial<EnvironmentSpec>): EnvironmentSpec;
  /** Whether a URL answers (real HTTP for local; the fake's routing for cloud fakes). Doubles as "send a request". */
  reachable?(url: string): Promise<boolean>;
  /**
   * How many running instances (processes, machines, pods) exist for `ref`, as
   * seen from outside the driver. Lets the suite prove "one environment" more
   * strictly than by comparing URLs; optional.
   */
  countInstances?(ref: EnvironmentRef): Promise<number>;
  /**
   * The runtime identity an environment's workload runs as, seen from outside
   * the driver: a Cloud Run service's `template.serviceAccount`, a Kubernetes
   * pod's `serviceAccountName` qualified by its namespace (`ns/name`), a Fly
   * machine's app, a local process's uid. Lets the suite prove that two tenants
   * never share an identity; optional (the case is skipped without it).
   */
  identityOf?(ref: EnvironmentRef): Promise<string>;
  /** Removes everything the harness started (environments, fakes, temp dirs). */
  cleanup(): Promise<void>;
}

export interface ConformanceSetup {
  /** Driver name, used in test titles. */
  name: string;
  create(): Promise<ConformanceHarness>;
  /**
   * The driver's flags, when known before `create()`. Tests must be declared
   * synchronously, so only then can a missing capability be reported by ava as
   * skipped; otherwise the case checks at run time that the driver declares the
   * lack honestly (no method, or a `not_supported` error) and logs the skip.
   */
  flags?: DriverFlags;
}

type Context = ExecutionContext<unknown>;
type Case = (t: Context, h: ConformanceHarness) => Promise<void>;

const WAIT_MS = 60_000;
let sequence = 0;

/** Fresh, unique refs per case so cases never see each other's environments. */
function makeRef(env = 'demo', tenantId?: string, ownerId = 'conformance-owner'): EnvironmentRef {
  sequence += 1;
  return { ownerId, tenantId: tenantId ?? `cf-${randomBytes(4).toString('hex')}-${sequence}`, env };
}

/** Another tag of the same image, so a redeploy is observable in `status.image`. */
function retagImage(image: string, tag: string): string {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? `${image.slice(0, colon)}:${tag}` : `${image}:${tag}`;
}

async function launch(h: ConformanceHarness, ref: EnvironmentRef, overrides?: Partial<EnvironmentSpec>) {
  const spec = h.makeSpec(ref, overrides);
  await h.driver.ensureInfrastructure(spec);
  await h.driver.deploy(spec);
  const status = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
  return { spec, status };
}

/** Reachability may lag a state change by a moment (a process still closing its socket); poll briefly. */
async function eventuallyReachable(h: ConformanceHarness, url: string, want: boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  let last = !want;
  while (Date.now() < deadline) {
    last = await h.reachable!(url);
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

/**
 * Declares the conformance cases on `test` for the driver described by `setup`.
 * Cases run serially: cloud fakes and local processes share one machine.
 */
export function testDriverConformance(test: TestFn, setup: ConformanceSetup): void {
  let harness: ConformanceHarness | undefined;
  const prefix = `[${setup.name}]`;

  test.before(async () => {
    harness = await setup.create();
  });
  test.after.always(async () => {
    await harness?.cleanup();
  });

  const run = (title: string, body: Case) =>
    test.serial(`${prefix} ${title}`, async (t) => {
      t.timeout(WAIT_MS * 2);
      if (!harness) throw new Error(`${setup.name} harness was not created; see the before hook's error`);
      await body(t, harness);
    });

  /** A driver that lacks a capability says so: no method, or a rejection with `not_supported`. */
  const expectNotSupported = async (
    t: Context,
    h: ConformanceHarness,
    flag: keyof DriverFlags,
    method: 'logs' | 'metrics' | 'restart' | undefined,
  ) => {
    const fn = method && (h.driver[method] as ((ref: EnvironmentRef) => Promise<unknown>) | undefined);
    if (!fn) {
      t.pass();
      return;
    }
    const error = await t.throwsAsync(() => fn.call(h.driver, makeRef()));
    t.is((error as { code?: string }).code, 'not_supported', `${method} must reject with not_supported when flags.${flag} is false`);
  };

  /**
   * A case that needs a capability: skipped when the flags are known to lack it
   * (and then the lack itself is checked), else checked honestly at run time.
   */
  const runWith = (flag: keyof DriverFlags, method: 'logs' | 'metrics' | 'restart' | undefined, title: string, body: Case) => {
    if (setup.flags && !setup.flags[flag]) {
      test.skip(`${prefix} ${title} (driver lacks ${flag})`, () => {});
      run(`without ${flag}, ${method ?? 'the driver'} rejects with not_supported instead of faking it`, (t, h) =>
        expectNotSupported(t, h, flag, method),
      );
      return;
    }
    run(title, async (t, h) => {
      if (h.driver.flags[flag]) {
        await body(t, h);
        return;
      }
      t.log(`skipped: ${setup.name} declares flags.${flag} = false`);
      await expectNotSupported(t, h, flag, method);
    });
  };

  // The skips above follow setup.flags, known before the driver exists: they must be the driver's own.
  if (setup.flags) {
    const declared = setup.flags;
    run('the flags the suite skips by are the ones the driver declares', async (t, h) => {
      for (const flag of Object.keys(declared) as (keyof DriverFlags)[]) {
        t.is(
          h.driver.flags[flag],
          declared[flag],
          `flags.${flag}: the driver says ${h.driver.flags[flag]}, the suite was set up with ${declared[flag]}`,
        );
      }
    });
  }

  // Provisioning

  run('ensureInfrastructure then deploy then waitReady gives a ready environment with a url', async (t, h) => {
    const ref = makeRef();
    const spec = h.makeSpec(ref);
    const infra = await h.driver.ensureInfrastructure(spec);
    await h.driver.deploy(spec);
    const status = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.is(status.state, 'running');
    t.true(status.ready);
    t.truthy(status.url);
    if (infra.url) t.is(status.url, infra.url);
    t.is(status.image, spec.image);
    if (h.reachable) t.true(await h.reachable(status.url!));
  });

  run('status of an unknown environment is absent and never throws', async (t, h) => {
    const status = await h.driver.status(makeRef('live'));
    t.is(status.state, 'absent');
    t.false(status.ready);
  });

  run('waitReady on an environment that was never deployed fails instead of hanging', async (t, h) => {
    await t.throwsAsync(() => h.driver.waitReady(makeRef(), { timeoutMs: 1500 }));
  });

  run('repeating ensureInfrastructure and deploy yields one environment', async (t, h) => {
    const ref = makeRef();
    const spec = h.makeSpec(ref);
    const first = await h.driver.ensureInfrastructure(spec);
    const second = await h.driver.ensureInfrastructure(spec);
    t.is(second.url, first.url);
    await h.driver.deploy(spec);
    await h.driver.deploy(spec);
    const status = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.true(status.ready);
    if (first.url) t.is(status.url, first.url);
    if (h.countInstances) t.is(await h.countInstances(ref), 1);
  });

  run('redeploying with a new image changes status.image and keeps the url', async (t, h) => {
    const ref = makeRef();
    const { spec, status: before } = await launch(h, ref);
    const image = retagImage(spec.image, 'next');
    await h.driver.deploy(h.makeSpec(ref, { image }));
    const after = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.is(after.image, image);
    t.is(after.url, before.url);
    if (h.countInstances) t.is(await h.countInstances(ref), 1);
  });

  run('an update then a rollback to the previous image ends ready on that image, on the same url, once', async (t, h) => {
    const ref = makeRef();
    const { spec, status: before } = await launch(h, ref);
    await h.driver.deploy(h.makeSpec(ref, { image: retagImage(spec.image, 'next') }));
    await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    await h.driver.deploy(h.makeSpec(ref, { image: spec.image }));
    const after = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.true(after.ready);
    t.is(after.image, spec.image);
    t.is(after.url, before.url);
    if (h.countInstances) t.is(await h.countInstances(ref), 1);
  });

  // Suspend, resume, restart

  run('suspend stops the environment, keeps its url, and can be repeated', async (t, h) => {
    const ref = makeRef();
    const { status: before } = await launch(h, ref);
    await h.driver.suspend(ref);
    const stopped = await h.driver.status(ref);
    t.is(stopped.state, 'stopped');
    t.false(stopped.ready);
    t.is(stopped.url, before.url);
    if (h.reachable) t.false(await eventuallyReachable(h, before.url!, false));
    if (h.countInstances) t.is(await h.countInstances(ref), 0);
    await h.driver.suspend(ref);
    t.is((await h.driver.status(ref)).state, 'stopped');
  });

  run('resume brings a suspended environment back ready on the same url', async (t, h) => {
    const ref = makeRef();
    const { status: before } = await launch(h, ref);
    await h.driver.suspend(ref);
    await h.driver.resume(ref);
    const after = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.true(after.ready);
    t.is(after.state, 'running');
    t.is(after.url, before.url);
    if (h.reachable) t.true(await eventuallyReachable(h, after.url!, true));
    await h.driver.resume(ref);
    t.true((await h.driver.waitReady(ref, { timeoutMs: WAIT_MS })).ready);
  });

  runWith('restart', 'restart', 'restart keeps the url and comes back ready', async (t, h) => {
    const ref = makeRef();
    const { status: before } = await launch(h, ref);
    await h.driver.restart(ref);
    const after = await h.driver.waitReady(ref, { timeoutMs: WAIT_MS });
    t.true(after.ready);
    t.is(after.url, before.url);
    if (h.countInstances) t.is(await h.countInstances(ref), 1);
  });

  // Destroy

  run('destroy removes the environment, and repeating it or destroying an unknown one is fine', async (t, h) => {
    const ref = makeRef();
    const { status } = await launch(h, ref);
    await h.driver.destroy(ref);
    t.is((await h.driver.status(ref)).state, 'absent');
    if (h.reachable) t.false(await eventuallyReachable(h, status.url!, false));
    if (h.countInstances) t.is(await h.countInstances(ref), 0);
    await t.notThrowsAsync(() => h.driver.destroy(ref));
    await t.notThrowsAsync(() => h.driver.destroy(makeRef('test')));
  });

  // Observability

  runWith('logs', 'logs', 'logs return dated lines after a request, newest last, within the limit', async (t, h) => {
    const ref = makeRef();
    const { status } = await launch(h, ref);
    if (h.reachable) await h.reachable(status.url!);
    const deadline = Date.now() + 15_000;
    let lines = await h.driver.logs!(ref);
    while (lines.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      lines = await h.driver.logs!(ref);
    }
    t.true(lines.length > 0, 'expected log lines after the environment served a request');
    for (const line of lines) {
      t.false(Number.isNaN(Date.parse(line.time)), `not an ISO time: ${line.time}`);
      t.true(['stdout', 'stderr', 'system'].includes(line.stream));
      t.is(typeof line.text, 'string');
    }
    const times = lines.map((l) => Date.parse(l.time));
    t.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    t.true((await h.driver.logs!(ref, { limit: 1 })).length <= 1);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    t.is((await h.driver.logs!(ref, { since: future })).length, 0);
  });

  runWith('metrics', 'metrics', 'metrics report cpu, memory, uptime and a sample time', async (t, h) => {
    const ref = makeRef();
    await launch(h, ref);
    const m = await h.driver.metrics!(ref);
    t.true(Number.isFinite(m.cpu) && m.cpu >= 0);
    t.true(Number.isFinite(m.memoryBytes) && m.memoryBytes >= 0);
    t.true(Number.isFinite(m.uptimeSeconds) && m.uptimeSeconds >= 0);
    t.false(Number.isNaN(Date.parse(m.sampledAt)));
    if (m.requests !== undefined) t.true(Number.isInteger(m.requests) && m.requests >= 0);
  });

  // Isolation

  run('two environments of one tenant are isolated: different urls, suspending one leaves the other ready', async (t, h) => {
    const demo = makeRef('demo');
    const live = makeRef('live', demo.tenantId);
    const a = await launch(h, demo);
    const b = await launch(h, live);
    t.not(a.status.url, b.status.url);
    await h.driver.suspend(demo);
    t.is((await h.driver.status(demo)).state, 'stopped');
    const other = await h.driver.status(live);
    t.true(other.ready);
    t.is(other.url, b.status.url);
  });

  run('two tenants never share an identity, whether of one owner or of two', async (t, h) => {
    if (!h.identityOf) {
      t.log(`skipped: the ${setup.name} harness has no identityOf, so identities cannot be read from outside the driver`);
      t.pass();
      return;
    }
    const first = makeRef('demo');
    const sameOwner = makeRef('demo');
    const otherOwner = makeRef('demo', undefined, 'conformance-other-owner');
    for (const ref of [first, sameOwner, otherOwner]) await launch(h, ref);
    const [a, b, c] = await Promise.all([first, sameOwner, otherOwner].map((ref) => h.identityOf!(ref)));
    for (const id of [a, b, c]) t.true(typeof id === 'string' && id.length > 0, `empty identity: ${JSON.stringify(id)}`);
    t.not(a, b, 'two tenants of one owner share a runtime identity');
    t.not(a, c, 'tenants of two owners share a runtime identity');
    t.not(b, c, 'tenants of two owners share a runtime identity');
    // Environments of one tenant may share its identity; that is the tenant's own boundary.
  });
}
