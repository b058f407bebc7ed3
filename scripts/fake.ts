/**
 * `npm run fake -- <name> [--port N]`: starts one of the fake cloud APIs the
 * tests use, alone, on 127.0.0.1, prints its URL and how to point the
 * standard client at it, and runs until Ctrl-C. Useful to try a driver or a
 * CLI (kubectl, bq, gcloud) by hand against the same fake the tests trust.
 */
import { startBigQueryFake, type ExportRow } from '../testing/fakes/bigquery-fake.ts';
import { startCloudRunFake } from '../testing/fakes/cloud-run-fake.ts';
import { startFlyFake } from '../testing/fakes/fly-fake.ts';
import { startGeminiFake } from '../testing/fakes/gemini-fake.ts';
import { startKubernetesFake } from '../testing/fakes/kubernetes-fake.ts';

/** The billing export table the standalone BigQuery fake serves, with a few days of sample rows. */
export const SAMPLE_BILLING_TABLE = 'tp-billing.billing_export.gcp_billing_export_v1_000000_000000_000000';

/** Sample Cloud Billing export rows: two tenants and one unattributed line over two days. */
export function sampleBillingRows(): ExportRow[] {
  const row = (day: string, tenant: string | null, service: string, cost: number, credits: number[] = []): ExportRow => ({
    usage_start_time: `${day}T10:00:00Z`,
    service: { description: service },
    labels: tenant ? [{ key: 'tenantplane-tenant-id', value: tenant }] : [],
    cost,
    currency: 'USD',
    credits: credits.map((amount, i) => ({ name: `credit-${i}`, amount })),
  });
  return [
    row('2024-05-01', 't-aaaaaaaaaa', 'Cloud Run', 10, [-2]),
    row('2024-05-01', 't-bbbbbbbbbb', 'Cloud Run', 3),
    row('2024-05-01', null, 'Networking', 4),
    row('2024-05-02', 't-aaaaaaaaaa', 'Cloud Storage', 0.25),
  ];
}

interface Started {
  url: string;
  close(): Promise<void>;
}

/** Each fake by name: how to start it and how to use it. */
const FAKES: Record<string, { start(port?: number): Promise<Started>; hint(url: string): string }> = {
  kubernetes: {
    start: (port) => startKubernetesFake({ port }),
    hint: (url) =>
      `KUBECONFIG=/nonexistent kubectl --cache-dir=/tmp/kubectl-fake-cache --server=${url} get ns   (bearer token fake-token, optional over http)`,
  },
  bigquery: {
    start: (port) => startBigQueryFake({ table: SAMPLE_BILLING_TABLE, rows: sampleBillingRows(), port }),
    hint: (url) =>
      `CLOUDSDK_AUTH_ACCESS_TOKEN=any bq --api=${url} --discovery_file=/usr/lib/google-cloud-sdk/platform/bq/discovery_next/bigquery.json --project_id=tp-billing ls billing_export   (table ${SAMPLE_BILLING_TABLE})`,
  },
  'cloud-run': {
    start: (port) => startCloudRunFake({ port }),
    hint: (url) =>
      `Cloud Run Admin v2, IAM, Artifact Registry, Secret Manager, Logging and Monitoring: CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=${url}/ (token fake-access-token is the platform)`,
  },
  fly: {
    start: (port) => startFlyFake({ port }),
    hint: (url) => `Machines API at ${url}, GraphQL at ${url}/graphql (token fake-fly-token)`,
  },
  gemini: {
    start: (port) => startGeminiFake({ port }),
    hint: (url) => `generateContent at ${url}; queue replies from code (fake.reply) — a request with none queued answers 500`,
  },
};

/** Parses `<name> [--port N]`; throws with the usage on anything else. */
export function parseFakeArgs(argv: string[]): { name: string; port?: number } {
  const usage = `usage: npm run fake -- <${Object.keys(FAKES).join('|')}> [--port N]`;
  let name: string | undefined;
  let port: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = arg === '--port' ? argv[++i] : arg.startsWith('--port=') ? arg.slice('--port='.length) : undefined;
    if (value !== undefined) {
      port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${value}". ${usage}`);
    } else if (!arg.startsWith('-') && name === undefined) name = arg;
    else throw new Error(`unexpected argument "${arg}". ${usage}`);
  }
  if (!name) throw new Error(usage);
  if (!FAKES[name]) throw new Error(`no fake named "${name}"; choose one of ${Object.keys(FAKES).join(', ')}. ${usage}`);
  return { name, port };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseFakeArgs>;
  try {
    args = parseFakeArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const fake = FAKES[args.name];
  let running: Started;
  try {
    running = await fake.start(args.port);
  } catch (err) {
    const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    console.error(busy ? `port ${args.port} is busy; choose another with --port N, or omit it for a free one` : String(err));
    process.exit(1);
  }
  console.log(running.url);
  console.error(`${args.name} fake at ${running.url} (Ctrl-C stops it)\n  ${fake.hint(running.url)}`);
  const stop = async () => {
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
