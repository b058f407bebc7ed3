/** The Kubernetes driver: a Deployment, Service and Ingress per tenant environment. */
export { createKubernetesDriver } from './driver.ts';
export type { KubernetesDriverOptions } from './options.ts';
