import * as path from 'path';
import { App, Environment, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppNestedStack, AppStack, AppTier } from './app-stack';
import { DataNestedStack, DataStack, DataTier } from './data-stack';
import { NetworkStack } from './network-stack';

/** Context key naming the environment (stack names are prefixed by it). */
export const ENV_CONTEXT_KEY = 'env';
/** Context key choosing the stack layout of the example (`-c layout=nested`). */
export const LAYOUT_CONTEXT_KEY = 'layout';
/** Context key overriding the migrations folder of the example. */
export const MIGRATIONS_DIR_CONTEXT_KEY = 'schemagateMigrationsDir';
/** The example's migrations: the repository's `migrations/` folder. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/**
 * How the data and the app are split into stacks.
 *
 * - `separate`: `<env>-network`, `<env>-data`, `<env>-app`, deployed one by
 *   one. Each stack rolls back on its own: an app failure leaves the new
 *   schema in place (fine when every migration is expand-only).
 * - `nested`: `<env>-network` and `<env>-data-app`, a parent stack whose two
 *   nested stacks hold the data and the app. One deployment, one rollback:
 *   an app failure rolls the schema back too.
 */
export type Layout = 'separate' | 'nested';

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
   * How the data and the app are split into stacks (see {@link Layout}).
   *
   * @default - the context key `layout`, else `separate`
   */
  readonly layout?: Layout;
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

/** The stacks of the example. */
export interface ExampleStacks {
  readonly layout: Layout;
  readonly network: NetworkStack;
  /** The data tier: `<env>-data`, or the `Data` nested stack of `<env>-data-app`. */
  readonly data: Stack & DataTier;
  /** The app tier: `<env>-app`, or the `App` nested stack of `<env>-data-app`. */
  readonly app: Stack & AppTier;
  /** `nested` layout: the parent stack `<env>-data-app`, the one rollback unit of data and app. */
  readonly parent?: Stack;
}

/**
 * Builds the example, with cdk-nag's AwsSolutions checks on every stack:
 * Network → Data → App as three stacks (`separate`, the default), or
 * Network → one parent stack with Data and App nested in it (`nested`).
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
  const layout = options.layout ?? (app.node.tryGetContext(LAYOUT_CONTEXT_KEY) as string | undefined) ?? 'separate';
  if (layout !== 'separate' && layout !== 'nested') {
    throw new Error(
      `schemagate example: layout \`${layout}\` must be \`separate\` (network, data and app stacks, the default) ` +
        'or `nested` (data and app as nested stacks of one parent, rolled back together), e.g. -c layout=nested.',
    );
  }
  const drain = { tagKey: 'schemagate:drain', tagValue: `${envName}-app` };
  const env = options.env;

  const network = new NetworkStack(app, `${envName}-network`, {
    env,
    description: `schemagate example (${envName}): VPC`,
  });
  let stacks: ExampleStacks;
  if (layout === 'separate') {
    const data = new DataStack(app, `${envName}-data`, {
      env,
      description: `schemagate example (${envName}): MariaDB and its schema migrations`,
      vpc: network.vpc,
      migrationsDir,
      drain,
      listenerArn: network.listener.listenerArn,
      lambdaBinaryDir: options.lambdaBinaryDir,
    });
    data.addStackDependency(network, 'the database and the Lambda live in its VPC');
    const appStack = new AppStack(app, `${envName}-app`, {
      env,
      description: `schemagate example (${envName}): web and worker Auto Scaling groups`,
      vpc: network.vpc,
      migrations: data.migrations,
      drain,
      loadBalancer: network.loadBalancer,
      listener: network.listener,
    });
    appStack.addStackDependency(data, 'the app instances change only after the schema migrations succeeded');
    stacks = { layout, network, data, app: appStack };
  } else {
    // One parent: CloudFormation deploys both nested stacks in one stack
    // operation, so a failure in either rolls back both, schema included.
    const parent = new Stack(app, `${envName}-data-app`, {
      env,
      description: `schemagate example (${envName}): MariaDB, its schema migrations and the app, rolled back as one`,
    });
    parent.addStackDependency(network, 'the database, the Lambda and the app live in its VPC');
    const data = new DataNestedStack(parent, 'Data', {
      description: `schemagate example (${envName}): MariaDB and its schema migrations`,
      vpc: network.vpc,
      migrationsDir,
      drain,
      listenerArn: network.listener.listenerArn,
      lambdaBinaryDir: options.lambdaBinaryDir,
    });
    // gate() makes the App nested stack depend on the Data one, and hands it
    // SchemaVersion as a nested-stack parameter.
    const appStack = new AppNestedStack(parent, 'App', {
      description: `schemagate example (${envName}): web and worker Auto Scaling groups`,
      vpc: network.vpc,
      migrations: data.migrations,
      drain,
      loadBalancer: network.loadBalancer,
      listener: network.listener,
    });
    stacks = { layout, network, data, app: appStack, parent };
  }

  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
  );
  return stacks;
}
