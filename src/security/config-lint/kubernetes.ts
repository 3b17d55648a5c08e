/**
 * Kubernetes manifests: the misconfigurations every hardening guide (the NSA/CISA Kubernetes
 * Hardening Guide, the Pod Security Standards' baseline and restricted profiles) starts with,
 * checked in each pod template of a YAML file (Pods, Deployments, StatefulSets, DaemonSets,
 * Jobs, CronJobs, ReplicaSets), with the line of the offending field.
 */
import { LineCounter, type Node, parseAllDocuments, isMap, isSeq } from 'yaml';

export interface ConfigFinding {
  code: string;
  level: 'high' | 'medium' | 'low';
  message: string;
  line: number;
}

export const KUBERNETES_RULES = {
  GK001: { level: 'high', message: 'A container runs privileged: it has every capability of the host (Pod Security Standards, baseline).' },
  GK002: { level: 'high', message: 'A hostPath volume mounts a directory of the node into the pod (baseline).' },
  GK003: { level: 'high', message: 'The pod shares the node’s network, PID or IPC namespace (hostNetwork/hostPID/hostIPC; baseline).' },
  GK004: { level: 'medium', message: 'A container has no CPU or memory limit: one pod can starve the node.' },
  GK005: { level: 'medium', message: 'A container may gain privileges (allowPrivilegeEscalation is not false; restricted).' },
  GK006: { level: 'medium', message: 'A container runs as root (runAsUser 0, or runAsNonRoot not set; restricted).' },
  GK007: { level: 'low', message: 'A container image is not pinned to a tag or digest (or uses :latest).' },
} as const;

type Code = keyof typeof KUBERNETES_RULES;

const WORKLOAD_TEMPLATE: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

function get(node: unknown, path: string[]): unknown {
  let current = node;
  for (const key of path) {
    if (!isMap(current)) return undefined;
    current = current.get(key, true);
  }
  return current;
}

function value(node: unknown): unknown {
  return node && typeof node === 'object' && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : node;
}

/** Whether `text` looks like a Kubernetes manifest at all (cheap, before parsing). */
export function looksLikeKubernetes(text: string): boolean {
  return /^\s*apiVersion:/m.test(text) && /^\s*kind:/m.test(text);
}

export function lintKubernetes(text: string): ConfigFinding[] {
  const counter = new LineCounter();
  const findings: ConfigFinding[] = [];
  const lineOf = (node: unknown, fallback: number): number => {
    const range = (node as Node | undefined)?.range;
    return range ? counter.linePos(range[0]).line : fallback;
  };
  const report = (code: Code, node: unknown, fallback: number): void => {
    findings.push({ code, ...KUBERNETES_RULES[code], line: lineOf(node, fallback) });
  };
  for (const doc of parseAllDocuments(text, { lineCounter: counter })) {
    if (!('contents' in doc) || !isMap(doc.contents)) continue;
    const kind = value(doc.contents.get('kind', true));
    const templatePath = typeof kind === 'string' ? WORKLOAD_TEMPLATE[kind] : undefined;
    if (!templatePath) continue;
    const spec = get(doc.contents, templatePath);
    if (!isMap(spec)) continue;
    const docLine = lineOf(doc.contents, 1);
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC'])
      if (value(spec.get(key, true)) === true) report('GK003', spec.get(key, true), docLine);
    const volumes = spec.get('volumes', true);
    if (isSeq(volumes)) for (const v of volumes.items) if (isMap(v) && v.has('hostPath')) report('GK002', v, docLine);
    const podSecurity = spec.get('securityContext', true);
    const podNonRoot = value(get(podSecurity, ['runAsNonRoot'])) === true;
    const podUser = value(get(podSecurity, ['runAsUser']));
    for (const listKey of ['initContainers', 'containers']) {
      const containers = spec.get(listKey, true);
      if (!isSeq(containers)) continue;
      for (const c of containers.items) {
        if (!isMap(c)) continue;
        const security = c.get('securityContext', true);
        if (value(get(security, ['privileged'])) === true) report('GK001', get(security, ['privileged']), docLine);
        if (value(get(security, ['allowPrivilegeEscalation'])) !== false) report('GK005', security ?? c, docLine);
        const user = value(get(security, ['runAsUser'])) ?? podUser;
        const nonRoot = value(get(security, ['runAsNonRoot'])) === true || podNonRoot;
        if (user === 0 || (!nonRoot && (user === undefined || user === null))) report('GK006', security ?? c, docLine);
        const limits = value(get(c, ['resources', 'limits'])) as Record<string, unknown> | undefined;
        if (!limits || limits.cpu === undefined || limits.memory === undefined) report('GK004', c.get('resources', true) ?? c, docLine);
        const image = String(value(c.get('image', true)) ?? '');
        const lastPart = image.slice(image.lastIndexOf('/') + 1);
        if (!image.includes('@') && (!lastPart.includes(':') || lastPart.endsWith(':latest')))
          report('GK007', c.get('image', true), docLine);
      }
    }
  }
  return findings;
}
