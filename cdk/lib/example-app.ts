import * as path from 'path';
import { App, Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppStack } from './app-stack';
import { DataStack } from './data-stack';
import { NetworkStack } from './network-stack';

/** Context key naming the environment (stack names are prefixed by it). */
export const ENV_CONTEXT_KEY = 'env';
/** Context key overriding the migrations folder of the example. */
export const MIGRATIONS_DIR_CONTEXT_KEY = 'schemagateMigrationsDir';
/** The example's migrations: the repository's `migrations/` folder. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/** Options of {@link buildExampleApp}. */
export interface ExampleAppOptions {
  /**
   * Environment name, prefixed to the stack names so that one account can
   * hold several (`dev-network`, `prod-data`, …).
   *
   * @default - the context key `env`, else `dev`
   */
  readonly envName?: string;
  /**
   * The migrations folder.
   *
   * @default - the context key `schemagateMigrationsDir`, else `<repo>/migrations`
   */
  readonly migrationsDir?: string;
  /**
   * The folder holding the Lambda's `bootstrap`.
   *
   * @default - see SchemaMigrationsProps.lambdaBinaryDir
   */
  readonly lambdaBinaryDir?: string;
  /**
   * Account and region of the stacks.
   *
   * @default - environment-agnostic stacks (synth needs no AWS access)
   */
  readonly env?: Environment;
}

/** The three stacks of the example, deployed in this order by `cdk deploy --all`. */
export interface ExampleStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly app: AppStack;
}

/**
 * Builds the example: Network → Data → App, with cdk-nag's AwsSolutions
 * checks on every stack.
 */
export function buildExampleApp(app: App, options: ExampleAppOptions = {}): ExampleStacks {
  const envName = options.envName ?? (app.node.tryGetContext(ENV_CONTEXT_KEY) as string | undefined) ?? 'dev';
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(envName)) {
    throw new Error(
      `schemagate example: env \`${envName}\` must be lowercase letters, digits and dashes, starting with a ` +
        'letter, at most 20 characters (it prefixes the stack names), e.g. -c env=prod.',
    );
  }
  const migrationsDir = path.resolve(
    options.migrationsDir ??
      (app.node.tryGetContext(MIGRATIONS_DIR_CONTEXT_KEY) as string | undefined) ??
      DEFAULT_MIGRATIONS_DIR,
  );
  const drain = { tagKey: 'schemagate:drain', tagValue: `${envName}-app` };
  const env = options.env;

  const network = new NetworkStack(app, `${envName}-network`, {
    env,
    description: `schemagate example (${envName}): VPC`,
  });
  const data = new DataStack(app, `${envName}-data`, {
    env,
    description: `schemagate example (${envName}): MariaDB and its schema migrations`,
    vpc: network.vpc,
    migrationsDir,
    drain,
    lambdaBinaryDir: options.lambdaBinaryDir,
  });
  data.addStackDependency(network, 'the database and the Lambda live in its VPC');
  const appStack = new AppStack(app, `${envName}-app`, {
    env,
    description: `schemagate example (${envName}): web and worker Auto Scaling groups`,
    vpc: network.vpc,
    migrations: data.migrations,
    drain,
  });
  appStack.addStackDependency(data, 'the app instances change only after the schema migrations succeeded');

  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
  );
  return { network, data, app: appStack };
}
