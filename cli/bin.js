#!/usr/bin/env node
// `npx tenantplane`: registers tsx's loader so the TypeScript CLI runs without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./index.ts');
await main();
