/**
 * Terraform files: publicly readable storage and security groups open to the whole internet —
 * the two misconfigurations behind most cloud data leaks — found by reading HCL's block structure
 * (resource blocks, nested blocks, attributes; strings, heredocs and comments skipped). Not an HCL
 * evaluator: values that come from variables are not followed.
 */
import type { ConfigFinding } from './kubernetes.ts';

export const TERRAFORM_RULES = {
  GT001: {
    level: 'high',
    message: 'A storage bucket is readable (or writable) by anyone: a public ACL or member (allUsers, public-read).',
  },
  GT002: { level: 'high', message: 'A security group admits traffic from anywhere (0.0.0.0/0 or ::/0) to SSH, RDP or every port.' },
  GT003: { level: 'medium', message: 'A security group admits traffic from anywhere (0.0.0.0/0 or ::/0).' },
  GT004: { level: 'high', message: 'An S3 public access block is turned off.' },
} as const;

interface Block {
  type: string;
  labels: string[];
  line: number;
  attributes: Map<string, { raw: string; line: number }>;
  blocks: Block[];
}

/** Parses HCL's structure: `type "label"… { attr = value  nested { … } }`. */
export function parseHclBlocks(text: string): Block[] {
  // Blank out comments and heredoc bodies, keeping offsets and newlines, so braces inside them do not count.
  const clean = text
    .replace(/<<-?(\w+)\n[\s\S]*?\n\s*\1\b/g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/("(?:[^"\\\n]|\\.)*")|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m, str) => (str ? str : m.replace(/[^\n]/g, ' ')));
  const lineAt = (offset: number): number => text.slice(0, offset).split('\n').length;
  const root: Block = { type: '', labels: [], line: 0, attributes: new Map(), blocks: [] };
  const stack: Block[] = [root];
  const token = /([A-Za-z_][\w-]*)((?:\s+"[^"\n]*")*)\s*\{|([A-Za-z_][\w-]*)\s*=\s*([^\n]*)|\}/g;
  for (const m of clean.matchAll(token)) {
    const top = stack.at(-1) as Block;
    if (m[0] === '}') {
      if (stack.length > 1) stack.pop();
    } else if (m[1] !== undefined) {
      const block: Block = {
        type: m[1],
        labels: [...(m[2] ?? '').matchAll(/"([^"]*)"/g)].map((l) => l[1] as string),
        line: lineAt(m.index ?? 0),
        attributes: new Map(),
        blocks: [],
      };
      top.blocks.push(block);
      stack.push(block);
    } else if (m[3] !== undefined) {
      let raw = (m[4] ?? '').trim();
      // A list over several lines: take it up to its closing bracket (its lines match nothing else).
      if (raw.endsWith('[')) {
        const start = (m.index ?? 0) + m[0].indexOf('[');
        const end = clean.indexOf(']', start);
        raw = clean.slice(start, end < 0 ? clean.length : end + 1).replace(/\s+/g, ' ');
      }
      top.attributes.set(m[3], { raw, line: lineAt(m.index ?? 0) });
      // `attr = { … }` opens an object value: its braces are balanced by the matches that follow.
      if (raw.endsWith('{')) stack.push({ type: m[3], labels: [], line: lineAt(m.index ?? 0), attributes: new Map(), blocks: [] });
    }
  }
  return root.blocks;
}

const OPEN_CIDR = /"(0\.0\.0\.0\/0|::\/0)"/;

function portsOpenWide(from: string | undefined, to: string | undefined, protocol: string | undefined): boolean {
  const f = Number(from ?? Number.NaN);
  const t = Number(to ?? Number.NaN);
  if (protocol !== undefined && /"-1"|"all"/.test(protocol)) return true;
  if (!Number.isFinite(f) || !Number.isFinite(t)) return false;
  return (f <= 22 && t >= 22) || (f <= 3389 && t >= 3389) || (f === 0 && t >= 65535);
}

export function lintTerraform(text: string): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  const report = (code: keyof typeof TERRAFORM_RULES, line: number): void => {
    findings.push({ code, ...TERRAFORM_RULES[code], line });
  };
  const attr = (b: Block, name: string) => b.attributes.get(name);
  const checkRule = (b: Block, cidrs: string[]): void => {
    const open = cidrs.some((c) => OPEN_CIDR.test(attr(b, c)?.raw ?? ''));
    if (!open) return;
    const line = attr(b, cidrs.find((c) => OPEN_CIDR.test(attr(b, c)?.raw ?? '')) ?? '')?.line ?? b.line;
    report(portsOpenWide(attr(b, 'from_port')?.raw, attr(b, 'to_port')?.raw, attr(b, 'protocol')?.raw) ? 'GT002' : 'GT003', line);
  };
  for (const block of parseHclBlocks(text)) {
    if (block.type !== 'resource') continue;
    const [type = ''] = block.labels;
    const acl = attr(block, 'acl');
    if ((type === 'aws_s3_bucket' || type === 'aws_s3_bucket_acl') && acl && /"public-read(-write)?"|"authenticated-read"/.test(acl.raw))
      report('GT001', acl.line);
    if (type === 'aws_s3_bucket_public_access_block') {
      for (const name of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']) {
        const a = attr(block, name);
        if (a && /^false\b/.test(a.raw)) report('GT004', a.line);
      }
    }
    if (/^google_storage_bucket_iam_(member|binding)$/.test(type)) {
      const member = attr(block, 'member') ?? attr(block, 'members');
      if (member && /allUsers|allAuthenticatedUsers/.test(member.raw)) report('GT001', member.line);
    }
    if (type === 'azurerm_storage_container') {
      const access = attr(block, 'container_access_type');
      if (access && /"(blob|container)"/.test(access.raw)) report('GT001', access.line);
    }
    if (type === 'aws_security_group')
      for (const ingress of block.blocks.filter((b) => b.type === 'ingress')) checkRule(ingress, ['cidr_blocks', 'ipv6_cidr_blocks']);
    if (type === 'aws_security_group_rule' && /"ingress"/.test(attr(block, 'type')?.raw ?? ''))
      checkRule(block, ['cidr_blocks', 'ipv6_cidr_blocks']);
    if (type === 'aws_vpc_security_group_ingress_rule') checkRule(block, ['cidr_ipv4', 'cidr_ipv6']);
    if (type === 'google_compute_firewall' && OPEN_CIDR.test(attr(block, 'source_ranges')?.raw ?? '')) {
      const allow = block.blocks.find((b) => b.type === 'allow');
      const ports = allow ? (attr(allow, 'ports')?.raw ?? '') : '';
      report(ports === '' || /"(22|3389)"/.test(ports) ? 'GT002' : 'GT003', attr(block, 'source_ranges')?.line ?? block.line);
    }
  }
  return findings;
}
