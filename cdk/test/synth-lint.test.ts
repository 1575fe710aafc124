/**
 * What a user runs: `npx cdk synth` of the example app through cdk.json (ts-node,
 * the repository's `migrations/`), then cfn-lint on every template it wrote;
 * and the same for `layout=nested`, whose parent and nested templates are
 * synthesized in-process (the CLI would run the same `buildExampleApp` with
 * the same context; a second ts-node synth would double this file's time).
 * cfn-lint comes from PyPI (`pip install cfn-lint`; `make test` installs it);
 * set CFN_LINT to its path if it is not on PATH. A missing cfn-lint fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { buildExampleApp, DEFAULT_MIGRATIONS_DIR } from '../example/example-app';
import { cleanup, fixtureLambdaDir, newApp, tempDir } from './helpers';

const CDK_DIR = path.join(__dirname, '..');

afterAll(cleanup);

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: CDK_DIR, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

test('cdk synth of the example app writes three templates that cfn-lint finds nothing in', () => {
  // GIVEN the repository's migrations and a stand-in bootstrap
  expect(fs.existsSync(DEFAULT_MIGRATIONS_DIR)).toBe(true);
  const out = path.join(tempDir('cdkout'), 'cdk.out');

  // WHEN `cdk synth` runs as a user runs it (through cdk.json, offline)
  const synth = run(path.join(CDK_DIR, 'node_modules', '.bin', 'cdk'), [
    'synth',
    '--quiet',
    '--no-notices',
    '--no-version-reporting',
    '--output',
    out,
    '-c',
    `schemagateLambdaDir=${fixtureLambdaDir()}`,
  ]);

  // THEN it succeeds (cdk-nag runs during synth and would fail it) ...
  expect(synth.output).not.toMatch(/AwsSolutions-\w+/);
  expect(synth.status).toBe(0);
  const templates = fs
    .readdirSync(out)
    .filter((f) => f.endsWith('.template.json'))
    .sort();
  expect(templates).toEqual(['dev-app.template.json', 'dev-data.template.json', 'dev-network.template.json']);

  // ... and cfn-lint, with the project's .cfnlintrc.yaml, reports nothing
  expectCfnLintClean(templates.map((t) => path.join(out, t)));
});

test('layout=nested: the parent and its two nested templates are cfn-lint clean too', () => {
  // GIVEN the example app with `-c layout=nested`, the context the CDK CLI adds, the repository's migrations
  const out = path.join(tempDir('cdkout-nested'), 'cdk.out');
  const app = newApp({ layout: 'nested', [cxapi.ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true }, out);
  buildExampleApp(app, { lambdaBinaryDir: fixtureLambdaDir() });

  // WHEN it is synthesized (cdk-nag runs here too)
  const assembly = app.synth();

  // THEN it wrote the network's and the parent's templates, and the two nested templates the parent names
  const parent = assembly.getStackByName('dev-data-app').template;
  const nestedFiles = Object.values(parent.Resources as Record<string, any>)
    .filter((r) => r.Type === 'AWS::CloudFormation::Stack')
    .map((r) => r.Metadata['aws:asset:path'] as string);
  expect(nestedFiles).toHaveLength(2);
  const templates = fs
    .readdirSync(out)
    .filter((f) => f.endsWith('.template.json'))
    .sort();
  expect(templates).toEqual(['dev-data-app.template.json', 'dev-network.template.json', ...nestedFiles].sort());

  // AND cfn-lint reports nothing on any of them
  expectCfnLintClean(templates.map((t) => path.join(out, t)));
});

/** cfn-lint, with the project's .cfnlintrc.yaml, reports nothing on these templates. */
function expectCfnLintClean(templates: string[]): void {
  const cfnLint = process.env.CFN_LINT ?? 'cfn-lint';
  const lint = run(cfnLint, ['--', ...templates]);
  if (lint.error) {
    throw new Error(`cannot run \`${cfnLint}\` (${lint.error.message}); install it with \`pip install cfn-lint\``);
  }
  expect(lint.output).toBe('');
  expect(lint.status).toBe(0);
}
