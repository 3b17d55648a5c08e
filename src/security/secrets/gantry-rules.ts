/**
 * Gantry's own rules beside gitleaks' defaults, for what those leave out and teams commit often
 * (both found by the labelled corpus in test/security/secrets-corpus.ts): credentials inside a
 * connection URL, and a quoted password with characters the generic rule does not take.
 */
export const GANTRY_EXTRA_RULES_TOML = String.raw`
[[rules]]
id = "url-credentials"
description = "A password inside a URL's user information (scheme://user:password@host), as in database and broker connection strings."
regex = '''\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@'"]{1,64}:([^\s:/@'"$]{6,128})@[a-z0-9.-]+'''
entropy = 3.0
keywords = ["://"]
tags = ["gantry"]
[[rules.allowlists]]
regexes = ['''^(?i)(?:password|passwd|secret|changeme|example|xxxx+|\*+|<[^>]*>|\{\{.*\}\}|\$\{.*\})$''']

[[rules]]
id = "quoted-password"
description = "A quoted value assigned to a password field, whatever characters it uses."
regex = '''(?i)\b[\w.-]{0,30}passw(?:or)?d[\w.-]{0,10}["']?[ \t]*(?:=|:|=>|:=)[ \t]*["']([^"'\s]{8,128})["']'''
entropy = 3.2
keywords = ["passw"]
tags = ["gantry"]
[[rules.allowlists]]
regexes = ['''^(?i)(?:.*(?:example|changeme|placeholder|redacted|dummy|xxxx).*|\*+|<[^>]*>|\{\{.*\}\}|\$\{.*\}|%\(.*\)s)$''']
`;
