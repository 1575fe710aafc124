import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { SchemaMigrations, SchemaMigrationsProps, TLS_RELAXED_WARNING, TlsMode } from '../lib/schema-migrations';
import { rdsCaBundle } from '../lib/tls';
import { cleanup, databaseStack, FIXTURE_MIGRATIONS, fixtureLambdaDir, tempDir } from './helpers';

afterAll(cleanup);

const LAMBDA_DIR = fixtureLambdaDir();

/** A SchemaMigrations with these props, its template and the folder of its Lambda asset. */
function synth(props: Partial<SchemaMigrationsProps> = {}) {
  const { stack, db } = databaseStack();
  new SchemaMigrations(stack, 'Migrations', {
    database: db,
    migrationsDir: FIXTURE_MIGRATIONS,
    lambdaBinaryDir: LAMBDA_DIR,
    ...props,
  });
  const template = Template.fromStack(stack);
  const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
  expect(fns).toHaveLength(1);
  const assembly = (stack.node.root as App).synth();
  const hash = (fns[0].Properties.Code.S3Key as string).replace(/\.zip$/, '');
  return { stack, template, env: fns[0].Properties.Environment.Variables, asset: path.join(assembly.directory, `asset.${hash}`) };
}

function certificates(pem: string): crypto.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new crypto.X509Certificate(b));
}

function relaxedWarnings(stack: Stack) {
  return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp(`schemagate: tls is .*${TLS_RELAXED_WARNING}`));
}

describe('TLS to the database', () => {
  test('is verify-full by default, against the Amazon RDS CA bundle shipped in the Lambda package', () => {
    // GIVEN / WHEN no TLS prop
    const { stack, env, asset } = synth();

    // THEN the Lambda verifies the certificate and its name against the bundle beside bootstrap
    expect(env.SCHEMAGATE_SSL_MODE).toBe('verify-full');
    expect(env.SCHEMAGATE_SSL_CA).toBe('ca-bundle.pem');
    const pem = fs.readFileSync(path.join(asset, 'ca-bundle.pem'), 'utf8');
    expect(pem).toBe(rdsCaBundle());
    // AND the bundle is Amazon's RDS CAs (every region, 2019 and 2024 roots), each a CA certificate
    const certs = certificates(pem);
    expect(certs.length).toBeGreaterThan(100);
    for (const c of certs) {
      expect(c.ca).toBe(true);
    }
    const subjects = certs.map((c) => c.subject);
    expect(subjects.some((s) => s.includes('CN=Amazon RDS eu-west-1 Root CA RSA2048 G1'))).toBe(true);
    expect(subjects.some((s) => s.includes('CN=Amazon RDS us-east-1 Root CA ECC384 G1'))).toBe(true);
    // AND nothing is weakened, so no warning
    expect(relaxedWarnings(stack)).toEqual([]);
  });

  test.each([
    [TlsMode.VERIFY_CA, /not that it names the database's host/],
    [TlsMode.REQUIRED, /does not check the database's certificate, so anything that answers on the database's address receives the master password/],
    [TlsMode.PREFERRED, /plain text/],
  ])('relaxed to %s, warns at synth time and says why', (mode, why) => {
    // GIVEN / WHEN
    const { stack, env } = synth({ tls: mode });

    // THEN the Lambda runs in that mode
    expect(env.SCHEMAGATE_SSL_MODE).toBe(mode);
    // AND the synth warns, on the construct, with what is at risk and the way back
    const warnings = relaxedWarnings(stack);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].id).toBe('/Data/Migrations');
    const text = warnings[0].entry.data as string;
    expect(text).toMatch(`schemagate: tls is \`${mode}\``);
    expect(text).toMatch(why);
    expect(text).toMatch(/Use TlsMode\.VERIFY_FULL \(the default\)/);
  });

  test('a CA bundle of your own ships instead of the RDS one', () => {
    // GIVEN a PEM file with two CA certificates (taken from the RDS bundle, as any valid CA would do)
    const two = certificates(rdsCaBundle())
      .slice(0, 2)
      .map((c) => c.toString());
    const file = path.join(tempDir('ca'), 'my-ca.pem');
    fs.writeFileSync(file, `# our CAs\n${two.join('\n')}`);

    // WHEN
    const { stack, env, asset } = synth({ caBundle: file });

    // THEN the package holds exactly those certificates, and verification stays full
    const shipped = certificates(fs.readFileSync(path.join(asset, 'ca-bundle.pem'), 'utf8'));
    expect(shipped.map((c) => c.fingerprint256)).toEqual(two.map((c) => new crypto.X509Certificate(c).fingerprint256));
    expect(env.SCHEMAGATE_SSL_MODE).toBe('verify-full');
    expect(relaxedWarnings(stack)).toEqual([]);
  });

  test('a CA bundle that cannot be read, holds no certificate, or a broken one stops the synth naming it', () => {
    // GIVEN
    const dir = tempDir('badca');
    const empty = path.join(dir, 'empty.pem');
    fs.writeFileSync(empty, 'no certificates here\n');
    const broken = path.join(dir, 'broken.pem');
    fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');

    // WHEN / THEN
    expect(() => synth({ caBundle: path.join(dir, 'missing.pem') })).toThrow(
      /caBundle `.*missing\.pem` cannot be read .*; give the path of a PEM file/,
    );
    expect(() => synth({ caBundle: empty })).toThrow(/caBundle `.*empty\.pem` holds no certificate/);
    expect(() => synth({ caBundle: broken })).toThrow(/caBundle `.*broken\.pem`: certificate 1 does not parse/);
  });

  test('a tls value that is not a TlsMode (from JavaScript) stops the synth', () => {
    expect(() => synth({ tls: 'verify_full' as TlsMode })).toThrow(
      /tls `verify_full` is not a TlsMode; use TlsMode\.VERIFY_FULL \(the default\)/,
    );
  });
});
