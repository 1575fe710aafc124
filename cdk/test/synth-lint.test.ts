/**
 * What a user runs: `npx cdk synth` of the example app through cdk.json (ts-node,
 * the repository's `migrations/`), then cfn-lint on every template it wrote.
 * cfn-lint comes from PyPI (`pip install cfn-lint`; `make test` installs it);
 * set CFN_LINT to its path if it is not on PATH. A missing cfn-lint fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_MIGRATIONS_DIR } from '../lib/example-app';
import { cleanup, fixtureLambdaDir, tempDir } from './helpers';

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
  const cfnLint = process.env.CFN_LINT ?? 'cfn-lint';
  const lint = run(cfnLint, ['--', ...templates.map((t) => path.join(out, t))]);
  if (lint.error) {
    throw new Error(`cannot run \`${cfnLint}\` (${lint.error.message}); install it with \`pip install cfn-lint\``);
  }
  expect(lint.output).toBe('');
  expect(lint.status).toBe(0);
});
