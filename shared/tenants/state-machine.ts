/**
 * The tenant state machine in one table (R-TENANT-6): for each operation, the
 * states it may start from, the state shown while it runs, and the state and
 * event it ends with when done or failed. The service (operations.ts) reads
 * `from`, `while` and `requested` to start one; the worker reads `done` and
 * `failed` to end it; the web pages and the CLI read the events to follow it.
 * Pure data, no imports beyond types, so the pages can bundle it.
 */
import type { TenantState } from './types.ts';

export interface OperationSpec {
  /** States the operation may start from; any other answers 409. */
  from: readonly TenantState[];
  /** The state while it runs; absent: the state does not change until it ends. */
  while?: TenantState;
  /** Events that mark a start (the first is the one written; creation writes CREATED_EVENT). */
  requested: readonly string[];
  done: { state: TenantState; event: string };
  /** `state` absent: a failure leaves the state as it was (the environment shows the error). */
  failed: { state?: TenantState; event: string };
}

/** The event creating a tenant writes; its provisioning then ends like `provision`. */
export const CREATED_EVENT = 'provisioning_requested';

export const OPERATIONS = {
  provision: {
    from: ['failed'],
    while: 'provisioning',
    requested: ['provision_requested', CREATED_EVENT],
    done: { state: 'ready', event: 'tenant_ready' },
    failed: { state: 'failed', event: 'provisioning_failed' },
  },
  suspend: {
    from: ['ready'],
    requested: ['suspend_requested'],
    done: { state: 'suspended', event: 'tenant_suspended' },
    failed: { event: 'suspend_failed' },
  },
  resume: {
    from: ['suspended'],
    requested: ['resume_requested'],
    done: { state: 'ready', event: 'tenant_resumed' },
    failed: { event: 'resume_failed' },
  },
  restart: {
    from: ['ready'],
    requested: ['restart_requested'],
    done: { state: 'ready', event: 'tenant_restarted' },
    failed: { event: 'restart_failed' },
  },
  deploy: {
    from: ['ready'],
    requested: ['deploy_requested'],
    done: { state: 'ready', event: 'deployed' },
    failed: { event: 'deploy_failed' },
  },
  reset: {
    from: ['ready'],
    requested: ['reset_requested'],
    done: { state: 'ready', event: 'environment_reset' },
    failed: { event: 'reset_failed' },
  },
  rotate: {
    from: ['ready'],
    requested: ['rotate_requested'],
    done: { state: 'ready', event: 'credentials_rotated' },
    failed: { event: 'rotate_failed' },
  },
  backup: {
    from: ['ready'],
    requested: ['backup_requested'],
    done: { state: 'ready', event: 'backup_created' },
    failed: { event: 'backup_failed' },
  },
  restore: {
    from: ['ready'],
    requested: ['restore_requested'],
    done: { state: 'ready', event: 'backup_restored' },
    failed: { event: 'restore_failed' },
  },
  // The owner's export of its data (exports.ts): a database dump and the bucket's objects as one .tar.gz.
  export: {
    from: ['ready'],
    requested: ['export_requested'],
    done: { state: 'ready', event: 'export_ready' },
    failed: { event: 'export_failed' },
  },
  delete: {
    from: ['provisioning', 'ready', 'failed', 'suspended', 'deleting'],
    while: 'deleting',
    requested: ['delete_requested'],
    done: { state: 'deleted', event: 'tenant_deleted' },
    // A deletion that failed stays "deleting": only deleting again (or an operator) moves it on.
    failed: { state: 'deleting', event: 'delete_failed' },
  },
  // Restoring a deleted tenant within its data's grace period (grace.ts): provisioned again on the data it kept.
  undelete: {
    from: ['deleted'],
    while: 'provisioning',
    requested: ['undelete_requested'],
    done: { state: 'ready', event: 'tenant_restored' },
    // Its data is kept: retrying provisioning (from failed) finishes the restore.
    failed: { state: 'failed', event: 'undelete_failed' },
  },
} as const satisfies Record<string, OperationSpec>;

export type OperationName = keyof typeof OPERATIONS;
