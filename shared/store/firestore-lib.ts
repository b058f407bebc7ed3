/** `@google-cloud/firestore` on first use (see shared/lazy-require.ts): reach `Timestamp`, `FieldValue`, `FieldPath`, `Firestore` through `firestore()`. */
import { lazyRequire } from '../lazy-require.ts';

export const firestore = lazyRequire<typeof import('@google-cloud/firestore')>('@google-cloud/firestore');
