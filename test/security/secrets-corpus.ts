/**
 * A labelled corpus for the secret scanner: fake credentials in each provider's real format (35
 * providers, random bodies from a seeded generator, so none is a real key), each in the kind of
 * file it is usually committed in; and the usual false-positive traps — UUIDs, hashes, commit ids,
 * lockfile integrities, example keys from providers' docs, placeholders, template variables,
 * test fixtures with obviously fake values. Shared by test/security/secrets-corpus.test.ts and
 * bench/secrets-corpus.ts.
 */

export interface CorpusSample {
  id: string;
  provider: string | null;
  path: string;
  text: string;
  /** The secret a scanner must report; null for a trap that must yield nothing. */
  secret: string | null;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const UPPER_B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}_-`;
const BECH32 = 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L';
const DIGITS = '0123456789';

export function buildCorpus(seed = 20261206): CorpusSample[] {
  const random = mulberry32(seed);
  const pick = (alphabet: string, n: number): string =>
    Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  const uuid = (): string => `${pick(HEX, 8)}-${pick(HEX, 4)}-4${pick(HEX, 3)}-a${pick(HEX, 3)}-${pick(HEX, 12)}`;
  const samples: CorpusSample[] = [];
  const add = (provider: string, secret: string, contexts: [string, string][]): void => {
    for (const [i, [path, template]] of contexts.entries()) {
      samples.push({ id: `${provider}#${i + 1}`, provider, path, text: template.replaceAll('$S', secret), secret });
    }
  };

  add('aws-access-key', `AKIA${pick(UPPER_B32, 16)}`, [
    ['.env', 'AWS_ACCESS_KEY_ID=$S\nAWS_REGION=eu-west-1\n'],
    ['deploy/config.yaml', 'aws:\n  access_key_id: "$S"\n'],
  ]);
  add('aws-session-key', `ASIA${pick(UPPER_B32, 16)}`, [['scripts/sync.sh', 'export AWS_ACCESS_KEY_ID=$S\n']]);
  add('github-pat', `ghp_${pick(ALNUM, 36)}`, [
    ['.github/scripts/release.sh', 'curl -H "Authorization: token $S" https://api.github.com/user\n'],
    ['config.json', '{ "githubToken": "$S" }\n'],
  ]);
  add('github-fine-grained-pat', `github_pat_${pick(ALNUM, 22)}_${pick(ALNUM, 59)}`, [['.npmrc', '//npm.pkg.github.com/:_authToken=$S\n']]);
  add('github-oauth', `gho_${pick(ALNUM, 36)}`, [['app/settings.py', 'GITHUB_OAUTH = "$S"\n']]);
  add('github-app', `ghs_${pick(ALNUM, 36)}`, [['ci/token.txt', '$S\n']]);
  add('gitlab-pat', `glpat-${pick(URLSAFE, 20)}`, [['.gitlab-ci.yml', 'variables:\n  GITLAB_TOKEN: $S\n']]);
  add('slack-bot', `xoxb-${pick(DIGITS, 12)}-${pick(DIGITS, 13)}-${pick(ALNUM, 24)}`, [
    ['bot/index.js', "const slack = new WebClient('$S');\n"],
  ]);
  add('slack-user', `xoxp-${pick(DIGITS, 12)}-${pick(DIGITS, 12)}-${pick(DIGITS, 13)}-${pick(HEX, 32)}`, [
    ['tools/post.py', 'TOKEN = "$S"\n'],
  ]);
  add('slack-webhook', `https://hooks.slack.com/services/T${pick(UPPER_B32, 8)}/B${pick(UPPER_B32, 10)}/${pick(ALNUM, 24)}`, [
    ['alerts.yaml', 'slack_url: $S\n'],
  ]);
  add('stripe-live', `sk_live_${pick(ALNUM, 24)}`, [
    ['billing/.env.production', 'STRIPE_SECRET_KEY=$S\n'],
    ['billing/stripe.rb', "Stripe.api_key = '$S'\n"],
  ]);
  add('stripe-restricted', `rk_live_${pick(ALNUM, 32)}`, [['payments.ts', "export const key = '$S';\n"]]);
  add('google-api-key', `AIza${pick(URLSAFE, 35)}`, [
    ['web/maps.html', '<script src="https://maps.googleapis.com/maps/api/js?key=$S"></script>\n'],
  ]);
  add(
    'private-key-rsa',
    `-----BEGIN RSA PRIVATE KEY-----\n${pick(B64, 64)}\n${pick(B64, 64)}\n${pick(B64, 64)}\n-----END RSA PRIVATE KEY-----`,
    [['deploy/id_rsa', '$S\n']],
  );
  add('private-key-openssh', `-----BEGIN OPENSSH PRIVATE KEY-----\n${pick(B64, 70)}\n${pick(B64, 70)}\n-----END OPENSSH PRIVATE KEY-----`, [
    ['ansible/files/deploy_key', '$S\n'],
  ]);
  add('jwt', `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ${pick(URLSAFE, 60)}.${pick(URLSAFE, 43)}`, [
    ['test/http/login.http', 'Authorization: Bearer $S\n'],
  ]);
  add('twilio', `SK${pick(HEX, 32)}`, [['sms/config.js', "module.exports = { twilioKey: '$S' };\n"]]);
  add('sendgrid', `SG.${pick(URLSAFE, 22)}.${pick(URLSAFE, 43)}`, [['mail/.env', 'SENDGRID_API_KEY=$S\n']]);
  add('mailgun', `key-${pick(HEX, 32)}`, [['mail/settings.py', 'MAILGUN_API_KEY = "$S"\n']]);
  add('npm', `npm_${pick(ALNUM, 36)}`, [['.npmrc', '//registry.npmjs.org/:_authToken=$S\n']]);
  add('pypi', `pypi-AgEIcHlwaS5vcmc${pick(URLSAFE, 70)}`, [['.pypirc', '[pypi]\nusername = __token__\npassword = $S\n']]);
  add('shopify', `shpat_${pick(HEX, 32)}`, [['shop/config.toml', 'access_token = "$S"\n']]);
  add('telegram', `${pick(DIGITS, 10)}:A${pick(URLSAFE, 34)}`, [['bot.py', 'TELEGRAM_BOT_TOKEN = "$S"\n']]);
  add('heroku', uuid(), [['Procfile.env', 'HEROKU_API_KEY=$S\n']]);
  add('digitalocean', `dop_v1_${pick(HEX, 64)}`, [['terraform/provider.tf', 'provider "digitalocean" {\n  token = "$S"\n}\n']]);
  add('datadog', pick(LOWER_ALNUM, 40), [['monitoring/datadog.yaml', 'datadog_app_key: $S\n']]);
  add('new-relic', `NRAK-${pick(UPPER_B32, 27)}`, [['newrelic.js', "newrelic_api_key: '$S',\n"]]);
  add('vault', `hvs.${pick(URLSAFE, 95)}`, [['scripts/vault-login.sh', 'export VAULT_TOKEN=$S\n']]);
  add('terraform-cloud', `${pick(LOWER_ALNUM, 14)}.atlasv1.${pick(LOWER_ALNUM, 67)}`, [
    ['.terraformrc', 'credentials "app.terraform.io" {\n  token = "$S"\n}\n'],
  ]);
  add('doppler', `dp.pt.${pick(ALNUM, 43)}`, [['.env.local', 'DOPPLER_TOKEN=$S\n']]);
  add('linear', `lin_api_${pick(ALNUM, 40)}`, [['scripts/issues.ts', "const LINEAR = '$S';\n"]]);
  add('postman', `PMAK-${pick(HEX, 24)}-${pick(HEX, 34)}`, [['postman/env.json', '{ "key": "apiKey", "value": "$S" }\n']]);
  add('openai', `sk-proj-${pick(URLSAFE, 74)}T3BlbkFJ${pick(URLSAFE, 74)}`, [['notebooks/chat.py', 'client = OpenAI(api_key="$S")\n']]);
  add('anthropic', `sk-ant-api03-${pick(URLSAFE, 93)}AA`, [['agent/.env', 'ANTHROPIC_API_KEY=$S\n']]);
  add('huggingface', `hf_${pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 34)}`, [['train.py', 'login(token="$S")\n']]);
  add('grafana', `glsa_${pick(ALNUM, 32)}_${pick(HEX, 8)}`, [['grafana/provisioning.yaml', 'token: $S\n']]);
  add('age', `AGE-SECRET-KEY-1${pick(BECH32, 58)}`, [['secrets/key.txt', '# created: 2026-01-01\n$S\n']]);
  add('databricks', `dapi${pick(HEX, 32)}`, [['jobs/run.py', 'DATABRICKS_TOKEN = "$S"\n']]);
  add('pulumi', `pul-${pick(HEX, 40)}`, [['infra/.env', 'PULUMI_ACCESS_TOKEN=$S\n']]);
  add('square', `EAAA${pick(URLSAFE, 60)}`, [['pos/config.js', "const squareToken = '$S';\n"]]);
  add('sentry', `sntryu_${pick(HEX, 64)}`, [['.sentryclirc', '[auth]\ntoken=$S\n']]);
  add('generic-password', `${pick(ALNUM, 6)}!${pick(ALNUM, 10)}`, [['config/database.yml', 'production:\n  password: "$S"\n']]);
  add('generic-api-key', pick(ALNUM, 32), [['src/client.ts', "const API_KEY = '$S';\n"]]);
  add('url-credentials', `${pick(ALNUM, 16)}`, [['docker-compose.yml', 'DATABASE_URL: postgres://app:$S@db:5432/app\n']]);

  const trap = (id: string, path: string, text: string): void => {
    samples.push({ id: `trap:${id}`, provider: null, path, text, secret: null });
  };
  trap('uuid', 'src/ids.ts', `export const TENANT_ID = '${uuid()}';\n`);
  trap('uuid-request-id', 'logs/sample.log', `request_id=${uuid()} status=200\n`);
  trap('git-sha', 'CHANGELOG.md', `* fix the parser (${pick(HEX, 40)})\n`);
  trap('sha256', 'checksums.txt', `${pick(HEX, 64)}  gantry-linux-x64.tar.gz\n`);
  trap('docker-digest', 'deploy/Dockerfile', `FROM node:24@sha256:${pick(HEX, 64)}\n`);
  trap('integrity', 'web/index.html', `<script src="x.js" integrity="sha384-${pick(B64, 64)}" crossorigin="anonymous"></script>\n`);
  trap('aws-doc-example', 'docs/aws.md', 'Set `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE` in your shell.\n');
  trap('aws-doc-secret', 'docs/aws.md', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n');
  trap('stripe-doc', 'docs/payments.md', 'Use your key, e.g. `sk_test_xxxxxxxxxxxxxxxxxxxxxxxx`.\n');
  trap('placeholder-angle', 'README.md', 'export API_KEY=<your-api-key>\n');
  trap('placeholder-env', 'deploy/app.yaml', 'env:\n  - name: API_TOKEN\n    value: ${API_TOKEN}\n');
  trap('github-expression', '.github/workflows/ci.yml', 'env:\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n');
  trap('template-var', 'helm/values.yaml', 'password: {{ .Values.db.password }}\n');
  trap('password-prompt', 'src/login.ts', "const label = 'Password:';\n");
  trap('password-field', 'src/forms.ts', 'const passwordField = document.querySelector("#password");\n');
  trap('token-type', 'src/auth.py', 'token_type = "bearer"\n');
  trap('key-name', 'src/cache.ts', "const cacheKey = 'user-profile';\n");
  trap('public-key', 'keys/deploy.pub', `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${pick(B64, 43)} deploy@ci\n`);
  trap('certificate', 'certs/ca.crt', `-----BEGIN CERTIFICATE-----\n${pick(B64, 64)}\n${pick(B64, 64)}\n-----END CERTIFICATE-----\n`);
  trap('base64-image', 'web/logo.css', `.logo { background: url(data:image/png;base64,${pick(B64, 120)}); }\n`);
  trap('css-class', 'web/app.css', '.btn-primary-outline-lg-rounded-shadow { color: red; }\n');
  trap('lorem', 'docs/intro.md', 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n');
  trap('version', 'package.json', '{ "version": "10.24.3-beta.7+build.20261206" }\n');
  trap('semver-range', 'package.json', '{ "dependencies": { "keytar": "^7.9.0" } }\n');
  trap('test-fixture-fake', 'test/auth.test.ts', "const password = 'password';\n");
  trap('env-reference', 'src/config.ts', 'const secret = process.env.SESSION_SECRET;\n');
  trap('function-call', 'src/crypto.ts', 'const key = deriveKey(passphrase, salt);\n');
  trap('boolean', 'config/features.yaml', 'auth_required: true\n');
  trap('url-no-credentials', 'docker-compose.yml', 'DATABASE_URL: postgres://db:5432/app\n');
  trap('k8s-configmap', 'k8s/configmap.yaml', 'kind: ConfigMap\ndata:\n  LOG_LEVEL: info\n');
  trap('hex-color-list', 'web/theme.ts', "export const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];\n");
  trap('numeric-id', 'src/constants.ts', 'export const ACCOUNT_ID = 123456789012;\n');
  trap('masked', 'logs/ci.log', 'Using token ***\n');
  trap('sri-lockfile', 'package-lock.json', `"integrity": "sha512-${pick(B64, 86)}=="\n`);
  trap('go-sum', 'go.sum', `golang.org/x/net v0.7.0 h1:${pick(B64, 43)}=\n`);
  trap('jwt-header-only', 'docs/jwt.md', 'A header looks like `eyJhbGciOiJIUzI1NiJ9`.\n');
  trap('ipv6', 'config/net.yaml', 'listen: "2001:0db8:85a3:0000:0000:8a2e:0370:7334"\n');
  trap('mac', 'inventory.txt', 'eth0 00:1A:2B:3C:4D:5E\n');
  trap('url-env-password', 'docker-compose.yml', 'DATABASE_URL: postgres://app:${DB_PASSWORD}@db:5432/app\n');
  trap('url-template-password', 'helm/templates/secret.yaml', 'url: "amqp://{{ .Values.user }}:{{ .Values.password }}@rabbit:5672"\n');
  trap('url-ssh-git', 'package.json', '{ "repository": "git+ssh://git@github.com:acme/widgets.git" }\n');
  trap('url-placeholder', 'README.md', 'Connect with `redis://default:changeme@localhost:6379`.\n');
  trap('password-masked', 'logs/config-dump.json', '{ "password": "********" }\n');
  trap('password-python-format', 'settings.ini', 'password = "%(db_password)s"\n');
  trap('password-env-lookup', 'config/app.yaml', 'password: "${DB_PASSWORD}"\n');
  trap('password-example', 'docs/setup.md', 'password: "example-password-123"\n');
  return samples;
}
