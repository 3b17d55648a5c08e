/** Kubernetes, Terraform and gantry.yaml rules on small real-format files, with the lines they point at. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { lintGantryConfig, lintKubernetes, lintTerraform, looksLikeKubernetes } from '../../src/security/index.ts';

const codes = (findings: { code: string; line: number }[]) => findings.map((f) => `${f.code}@${f.line}`);

describe('Kubernetes manifests', () => {
  const risky = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      hostNetwork: true
      volumes:
        - name: docker
          hostPath:
            path: /var/run/docker.sock
      containers:
        - name: web
          image: nginx
          securityContext:
            privileged: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  privileged: "true"
`;
  const hardened = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          securityContext:
            runAsNonRoot: true
          containers:
            - name: report
              image: registry.example.com/report@sha256:${'a'.repeat(64)}
              securityContext:
                allowPrivilegeEscalation: false
              resources:
                limits: { cpu: 500m, memory: 256Mi }
`;

  it('finds each baseline and restricted problem at its line, in workloads only', () => {
    expect(looksLikeKubernetes(risky)).toBe(true);
    expect(codes(lintKubernetes(risky))).toEqual(['GK003@8', 'GK002@10', 'GK001@17', 'GK005@17', 'GK006@17', 'GK004@14', 'GK007@15']);
  });

  it('says nothing about a hardened CronJob', () => {
    expect(lintKubernetes(hardened)).toEqual([]);
  });
});

describe('Terraform', () => {
  const tf = `
# a public website bucket
resource "aws_s3_bucket_acl" "site" {
  bucket = aws_s3_bucket.site.id
  acl    = "public-read"
}

resource "aws_security_group" "ssh" {
  name = "ssh" # "0.0.0.0/0" in a comment is not a rule
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [
      "10.0.0.0/8",
      "0.0.0.0/0",
    ]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = {
    Name = "ssh"
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket              = aws_s3_bucket.site.id
  block_public_acls   = false
  block_public_policy = true
}

resource "google_storage_bucket_iam_member" "public" {
  bucket = "assets"
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "aws_security_group" "internal" {
  ingress {
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/16"]
  }
}
`;

  it('finds public buckets and world-open ingress, the wide ports apart', () => {
    expect(codes(lintTerraform(tf))).toEqual(['GT001@5', 'GT002@14', 'GT003@23', 'GT004@32', 'GT001@39']);
  });
});

describe('gantry.yaml', () => {
  it('flags jobs that read secrets with the network on, and webhook pipelines running them', () => {
    const text = `pipeline:
  on:
    push: {}
    webhook: {}
  jobs:
    build:
      steps:
        - run: make
    deploy:
      env:
        TOKEN: \${{ secrets.DEPLOY_TOKEN }}
      steps:
        - run: ./deploy.sh
    offline:
      network: false
      steps:
        - run: sign --key "\${{ secrets.SIGNING_KEY }}"
`;
    const config = parseConfig(text, 'gantry.yaml');
    const lineOfJob = (job: string) => text.split('\n').findIndex((l) => l === `    ${job}:`) + 1;
    expect(codes(lintGantryConfig(config, lineOfJob))).toEqual(['GG001@9', 'GG002@9', 'GG002@14']);
  });
});
