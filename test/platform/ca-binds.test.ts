import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caBinds } from '../../src/platform/ca-binds.ts';

let root: string;
let data: string;
beforeEach(() => {
  // Under /tmp, as a proxy's CA often is: covered by the sandbox's own /tmp.
  root = mkdtempSync(join(tmpdir(), 'gantry-ca-binds-'));
  data = join(root, 'data');
  mkdirSync(join(data, 'runs'), { recursive: true });
  writeFileSync(join(root, 'ca.pem'), 'CA');
  mkdirSync(join(root, 'certs'));
  writeFileSync(join(data, 'ca.pem'), 'CA in the data dir');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('caBinds', () => {
  it('binds back the CA files and dirs under /tmp read-only, each once', () => {
    const ca = join(root, 'ca.pem');
    const certs = join(root, 'certs');
    const binds = caBinds({ NODE_EXTRA_CA_CERTS: ca, SSL_CERT_FILE: ca, SSL_CERT_DIR: `${certs}:/etc/ssl/certs` }, [data]);
    expect(binds).toEqual({ args: ['--ro-bind', ca, ca, '--ro-bind', certs, certs], unreadable: [] });
  });

  it('leaves alone what the read-only host already shows, and variables that name no CA', () => {
    expect(caBinds({ SSL_CERT_DIR: '/etc', HTTPS_PROXY: join(root, 'ca.pem'), PATH: root }, [data])).toEqual({
      args: [],
      unreadable: [],
    });
  });

  it('binds a symlink under /tmp to its target at both places', () => {
    const link = join(root, 'link.pem');
    symlinkSync(join(root, 'ca.pem'), link);
    expect(caBinds({ REQUESTS_CA_BUNDLE: link }, [data]).args).toEqual([
      '--ro-bind',
      join(root, 'ca.pem'),
      link,
      '--ro-bind',
      join(root, 'ca.pem'),
      join(root, 'ca.pem'),
    ]);
  });

  it('never uncovers the data dir, nor shows what is inside it, and says why for each path', () => {
    const binds = caBinds(
      {
        NODE_EXTRA_CA_CERTS: join(data, 'ca.pem'),
        SSL_CERT_DIR: `${root}:${join(data, 'runs')}`,
        GIT_SSL_CAINFO: join(root, 'missing.pem'),
      },
      [data],
    );
    expect(binds.args).toEqual([]);
    expect(binds.unreadable).toEqual([
      `NODE_EXTRA_CA_CERTS names ${join(data, 'ca.pem')}, which the sandbox cannot show: it is inside Gantry's data dir`,
      `GIT_SSL_CAINFO names ${join(root, 'missing.pem')}, which the sandbox cannot show: it does not exist`,
      `SSL_CERT_DIR names ${root}, which the sandbox cannot show: it holds Gantry's data dir`,
      `SSL_CERT_DIR names ${join(data, 'runs')}, which the sandbox cannot show: it is inside Gantry's data dir`,
    ]);
  });

  it('binds a file the server wrote for the security job inside the data dir, read-only, but never a folder there', () => {
    const file = join(data, 'advisories', 'osv.jsonl');
    mkdirSync(join(data, 'advisories'), { recursive: true });
    writeFileSync(file, '');
    const more = [
      { variable: 'GANTRY_ADVISORIES', named: file, serverFile: true },
      { variable: 'GANTRY_ADVISORIES', named: join(data, 'advisories'), serverFile: true },
    ];
    const binds = caBinds({}, [data], more);
    expect(binds.args).toEqual(['--ro-bind', file, file]);
    expect(binds.unreadable).toEqual([
      `GANTRY_ADVISORIES names ${join(data, 'advisories')}, which the sandbox cannot show: it is inside Gantry's data dir`,
    ]);
    // Without the mark, the file stays hidden like anything else in there.
    expect(caBinds({}, [data], [{ variable: 'GANTRY_ADVISORIES', named: file }]).args).toEqual([]);
  });
});
