/**
 * An environment's `target:` section: where its releases run. Absent means the embedded runtime;
 * `kubernetes:` a namespace of a cluster (docs/kubernetes.md). Kept apart from
 * config-delivery-schema.ts, which imports it, so that file does not grow a second concern.
 */
import { z } from 'zod';
import type { KubernetesTargetConfig } from '../core/delivery-config.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { compact, expected } from './config-common.ts';

/** A DNS-1123 label (RFC 1123): what Kubernetes accepts as a namespace or a Service's name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS-1123 subdomain: what Kubernetes accepts as most object names (a gateway's). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** An RFC 1123 host name, optionally with a leading wildcard label (Gateway API `hostnames`). */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The port a service listens on in its container unless the target says otherwise. */
export const DEFAULT_CONTAINER_PORT = 8080;
/** Gantry's image for the in-cluster proxy: this Gantry's version, so proxy and server agree. */
export const DEFAULT_PROXY_IMAGE = `gantry/gantry:${GANTRY_VERSION}`;

const dnsLabel = (what: string) =>
  z.string(expected(what)).regex(DNS_LABEL, {
    error: (issue) =>
      `invalid ${what} '${String(issue.input)}': use at most 63 lower-case letters, digits and -, starting and ending with a letter or digit (RFC 1123)`,
  });

export const gatewayMap = z.strictObject(
  {
    name: z
      .string(expected('a gateway name'))
      .regex(DNS_SUBDOMAIN, {
        error: (issue) => `invalid gateway name '${String(issue.input)}': use lower-case letters, digits, - and . (RFC 1123)`,
      })
      .describe('The Gateway the HTTPRoute attaches to.'),
    namespace: dnsLabel('gateway namespace').optional().describe("The gateway's namespace (default: the target's namespace)."),
    hostnames: z
      .array(
        z.string().regex(HOSTNAME, { error: (issue) => `invalid host name '${String(issue.input)}'` }),
        expected('a list of host names'),
      )
      .max(16)
      .optional()
      .describe('Host names the route answers (default: every host the gateway listens for).'),
  },
  expected('a map (name, namespace, hostnames)'),
);

export const kubernetesMap = z.strictObject(
  {
    namespace: dnsLabel('namespace').describe('The namespace the release runs in (it must exist).'),
    context: z.string().min(1).optional().describe("A context of the kubeconfig (default: the kubeconfig's current context)."),
    kubeconfig: z
      .string()
      .min(1)
      .optional()
      .describe("A kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the pod's service account in a cluster)."),
    image: z
      .string(expected('a container image'))
      .min(1)
      .regex(/^[^\s]+$/, { error: () => 'invalid image: no spaces' })
      .describe('The container image of the service; {release} and {commit} are replaced by the release number and its commit.'),
    traffic: z
      .enum(['proxy', 'gateway'])
      .default('proxy')
      .describe(
        "How traffic is split between versions: proxy (default; Gantry's proxy as a Deployment, which measures every request for canary analysis) or gateway (a Gateway API HTTPRoute's weights).",
      ),
    gateway: gatewayMap.optional().describe('The Gateway API gateway (traffic: gateway).'),
    port: z
      .int()
      .min(1)
      .max(65535)
      .default(DEFAULT_CONTAINER_PORT)
      .describe(`The port the service listens on in its container, given as $PORT (default ${DEFAULT_CONTAINER_PORT}).`),
    'proxy-image': z.string().min(1).optional().describe(`Gantry's image for the proxy Deployment (default ${DEFAULT_PROXY_IMAGE}).`),
  },
  expected('a map (namespace, context, kubeconfig, image, traffic, gateway, port, proxy-image)'),
);

export const targetMap = z.strictObject(
  { kubernetes: kubernetesMap.describe('Deploy to a Kubernetes namespace instead of the embedded runtime.') },
  expected('a map with kubernetes'),
);

/** raw `target:` → the environment's target, with defaults; a gateway is required for gateway traffic. */
export const targetSchema = targetMap
  .superRefine((value, ctx) => {
    const k = value.kubernetes;
    if (k.traffic === 'gateway' && k.gateway === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubernetes', 'traffic'],
        message: 'gateway traffic needs a gateway to attach to (gateway: { name })',
      });
    }
    if (k.traffic === 'proxy' && k.gateway !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['kubernetes', 'gateway'], message: 'a gateway is used only with traffic: gateway' });
    }
  })
  .transform((value): { kubernetes: KubernetesTargetConfig } => {
    const k = value.kubernetes;
    return {
      kubernetes: compact({
        namespace: k.namespace,
        context: k.context,
        kubeconfig: k.kubeconfig,
        image: k.image,
        traffic: k.traffic,
        gateway:
          k.gateway === undefined
            ? undefined
            : compact({ name: k.gateway.name, namespace: k.gateway.namespace, hostnames: k.gateway.hostnames ?? [] }),
        containerPort: k.port,
        proxyImage: k['proxy-image'] ?? DEFAULT_PROXY_IMAGE,
      }),
    };
  })
  .describe('Where releases run: absent for the embedded runtime, or kubernetes: a namespace of a cluster.');
