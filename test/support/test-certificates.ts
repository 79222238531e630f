import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PEM certificate and its key, as files (for redis-server) and as text (for ioredis `tls`). */
export interface CertificatePair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * A private CA made by `openssl` for one test run, which signs server and client certificates.
 * Nothing is trusted outside the test: the files live in a temp dir removed by `remove()`.
 */
export class TestCertificateAuthority {
  readonly ca: CertificatePair;
  private serial = 0;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {
    this.ca = this.files(name);
  }

  static create(name = 'test-ca'): TestCertificateAuthority {
    const dir = mkdtempSync(join(tmpdir(), 'nestjs-posthog-flags-tls-'));
    const [key, cert] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
    const args = [...'req -x509 -newkey rsa:2048 -nodes -days 2'.split(' '), '-keyout', key];
    execFileSync('openssl', [...args, '-out', cert, '-subj', `/CN=${name}`], { stdio: 'pipe' });
    return new TestCertificateAuthority(dir, name);
  }

  /** A certificate for `subjectAltName` (e.g. `IP:127.0.0.1,DNS:localhost`), signed by this CA. */
  issue(name: string, subjectAltName: string, usage: 'serverAuth' | 'clientAuth'): CertificatePair {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `subjectAltName=${subjectAltName}\nextendedKeyUsage=${usage}\n`);
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    run([
      ...'req -newkey rsa:2048 -nodes'.split(' '),
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${name}`,
    ]);
    const signer = [
      '-CA',
      this.ca.certFile,
      '-CAkey',
      this.ca.keyFile,
      '-set_serial',
      String(++this.serial),
    ];
    run([
      'x509',
      '-req',
      '-in',
      csr,
      ...signer,
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      join(this.dir, `${name}.crt`),
    ]);
    return this.files(name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private files(name: string): CertificatePair {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    return {
      certFile,
      keyFile,
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
    };
  }
}

/** redis-server arguments for a TLS port beside the plain one (which the launcher pings). */
export function redisTlsArgs(
  tlsPort: number,
  server: CertificatePair,
  caFile: string,
  authClients: 'yes' | 'no' | 'optional',
): string[] {
  const files = ['--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile];
  return [
    '--tls-port',
    String(tlsPort),
    ...files,
    '--tls-ca-cert-file',
    caFile,
    '--tls-auth-clients',
    authClients,
  ];
}
