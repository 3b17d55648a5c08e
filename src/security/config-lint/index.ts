/** Configuration files: Kubernetes manifests, Terraform, and gantry.yaml itself. */
export { GANTRY_CONFIG_RULES, lintGantryConfig } from './gantry-config.ts';
export { type ConfigFinding, KUBERNETES_RULES, lintKubernetes, looksLikeKubernetes } from './kubernetes.ts';
export { TERRAFORM_RULES, lintTerraform, parseHclBlocks } from './terraform.ts';
