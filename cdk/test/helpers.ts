import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';

/** The fixture migrations: versions 1 and 2 (up/down pairs) and 10 (irreversible). */
export const FIXTURE_MIGRATIONS = path.join(__dirname, 'fixtures', 'migrations');

/** A fresh temp dir removed by {@link cleanup}. */
const made: string[] = [];
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `schemagate-test-${prefix}-`));
  made.push(dir);
  return dir;
}
export function cleanup(): void {
  while (made.length > 0) {
    fs.rmSync(made.pop() as string, { recursive: true, force: true });
  }
}

/**
 * A folder with a `bootstrap` in it: what `cargo lambda build` would leave.
 * The template tests need a file, not a working binary.
 */
export function fixtureLambdaDir(): string {
  const dir = tempDir('lambda');
  fs.writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\necho "fixture bootstrap, not the real Lambda"\n');
  return dir;
}

/** A writable copy of the fixture migrations. */
export function copyOfFixtureMigrations(): string {
  const dir = tempDir('migrations');
  for (const name of fs.readdirSync(FIXTURE_MIGRATIONS)) {
    fs.copyFileSync(path.join(FIXTURE_MIGRATIONS, name), path.join(dir, name));
  }
  return dir;
}

/**
 * An App with the feature flags of cdk.json, so tests see what `cdk synth`
 * produces; `outdir` is where its cloud assembly goes (default: a temp dir).
 */
export function newApp(context: Record<string, unknown> = {}, outdir?: string): App {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'));
  return new App({ context: { ...cdkJson.context, ...context }, outdir });
}

/** A stack with a VPC and a MariaDB instance with a generated secret. */
export function databaseStack(app: App = newApp(), id = 'Data'): { stack: Stack; vpc: ec2.Vpc; db: rds.DatabaseInstance } {
  const stack = new Stack(app, id);
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const db = new rds.DatabaseInstance(stack, 'Db', {
    engine: rds.DatabaseInstanceEngine.mariaDb({ version: rds.MariaDbEngineVersion.VER_10_11 }),
    vpc,
    credentials: rds.Credentials.fromGeneratedSecret('admin'),
    storageEncrypted: true,
  });
  Validations.of(db.node.defaultChild as CfnResource).acknowledge({
    id: 'CloudFormation-Validate::E9006',
    reason: 'MariaDB 10.11 is given as the major version, which RDS accepts.',
  });
  return { stack, vpc, db };
}
