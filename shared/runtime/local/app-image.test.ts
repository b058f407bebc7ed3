import test from 'ava';
import { join } from 'node:path';
import { createImageStore } from '../../images/store.ts';
import { createLocalTestKit, launch } from '../../../testing/local-runtime.ts';
import { makeNodeApp } from '../../../testing/tar.ts';

const kit = await createLocalTestKit(test);
const health = async (url: string) => (await fetch(`${url}/health`)).json() as Promise<Record<string, unknown>>;

test('a local image runs its own code, and a deploy of another version replaces it', async (t) => {
  const imagesDir = join(kit.root, 'images');
  const store = createImageStore(imagesDir);
  const v1 = await store.put(makeNodeApp({ version: '1.0.0' }), new Date());
  const v2 = await store.put(makeNodeApp({ version: '2.0.0' }), new Date());
  const { driver } = await kit.makeDriver({ imagesDir });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref, { image: v1.image });
  t.like(await health(url!), { version: '1.0.0', tenantId: ref.tenantId });
  t.is((await driver.status(ref)).image, v1.image);
  await launch(driver, ref, { image: v2.image });
  t.like(await health(url!), { version: '2.0.0' });
  // Back to the default image: the sample tenant, which reports its own version.
  await launch(driver, ref, { image: 'tenantplane/sample-tenant:latest' });
  t.regex(String((await health(url!)).version), /^\d+\.\d+\.\d+$/);
  t.is((await health(url!)).image, 'tenantplane/sample-tenant:latest');
});

test('a restarted control plane starts a local image again from the store', async (t) => {
  const imagesDir = join(kit.root, 'images-restart');
  const { image } = await createImageStore(imagesDir).put(makeNodeApp({ version: '3.1.0' }), new Date());
  const { driver, dataDir } = await kit.makeDriver({ imagesDir });
  const ref = kit.newRef();
  const { url } = await launch(driver, ref, { image });
  await driver.stopAll();
  const again = kit.reopenDriver(dataDir, { imagesDir });
  await again.adopted;
  await again.waitReady(ref, { timeoutMs: 30_000 });
  t.like(await health(url!), { version: '3.1.0' });
});

test('an image that is not in the store fails the deploy with its name', async (t) => {
  const { driver } = await kit.makeDriver({ imagesDir: join(kit.root, 'empty') });
  const ref = kit.newRef();
  const image = `local/demo-app@sha256:${'b'.repeat(64)}`;
  const error = await t.throwsAsync(launch(driver, ref, { image }));
  t.regex(error!.message, /not in the local image store/);
});
