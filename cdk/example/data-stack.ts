import { CfnResource, Duration, NestedStack, NestedStackProps, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { DrainTarget, SchemaMigrations } from '../lib';

/** What the data tier is made of, in a stack of its own or nested in a parent. */
export interface DataTierProps {
  /** The VPC from the NetworkStack. */
  readonly vpc: ec2.IVpc;
  /** The folder of migration files shipped in the Lambda. */
  readonly migrationsDir: string;
  /** The tag carried by the app's Auto Scaling groups, emptied before a breaking migration. */
  readonly drain: DrainTarget;
  /** The ALB listener of the app, where the maintenance page goes while the app is drained. */
  readonly listenerArn: string;
  /**
   * Folder holding the Lambda's `bootstrap`.
   *
   * @default - see {@link SchemaMigrationsProps.lambdaBinaryDir}
   */
  readonly lambdaBinaryDir?: string;
}

/** The data tier: the database and the migrations that run against it. */
export interface DataTier {
  readonly database: rds.DatabaseInstance;
  readonly migrations: SchemaMigrations;
}

/** Properties of {@link DataStack}. */
export interface DataStackProps extends StackProps, DataTierProps {}

/**
 * MariaDB 10.11 on RDS with a generated secret, and the schema migrations
 * that run against it on every deploy: a stack of its own, deployed (and
 * rolled back) on its own.
 */
export class DataStack extends Stack implements DataTier {
  public readonly database: rds.DatabaseInstance;
  public readonly migrations: SchemaMigrations;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const tier = addDataTier(this, props);
    this.database = tier.database;
    this.migrations = tier.migrations;
  }
}

/** Properties of {@link DataNestedStack}. */
export interface DataNestedStackProps extends NestedStackProps, DataTierProps {}

/**
 * The same data tier as {@link DataStack}, as a nested stack: with the app's
 * nested stack in the same parent, a failure anywhere in the parent rolls
 * the schema back too.
 */
export class DataNestedStack extends NestedStack implements DataTier {
  public readonly database: rds.DatabaseInstance;
  public readonly migrations: SchemaMigrations;

  constructor(scope: Construct, id: string, props: DataNestedStackProps) {
    super(scope, id, props);
    const tier = addDataTier(this, props);
    this.database = tier.database;
    this.migrations = tier.migrations;
  }
}

/**
 * Adds the data tier's resources to `stack` itself (no construct in between,
 * so their logical ids are the same in either kind of stack).
 */
function addDataTier(stack: Stack, props: DataTierProps): DataTier {
  const engine = rds.DatabaseInstanceEngine.mariaDb({ version: rds.MariaDbEngineVersion.VER_10_11 });
  // TLS only; and the triggers of online changes (docs/online-changes.md):
  // with automated backups RDS turns the binary log on, and creating a
  // trigger then needs this (the migrations user has no SUPER).
  const parameterGroup = new rds.ParameterGroup(stack, 'Parameters', {
    engine,
    description: 'TLS only; triggers for online schema changes',
    parameters: { require_secure_transport: 'ON', log_bin_trust_function_creators: '1' },
  });

  const database = new rds.DatabaseInstance(stack, 'Database', {
    engine,
    parameterGroup,
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
    vpc: props.vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    credentials: rds.Credentials.fromGeneratedSecret('app_admin'),
    databaseName: 'app',
    port: 3406,
    storageEncrypted: true,
    multiAz: true,
    deletionProtection: true,
    backupRetention: Duration.days(7),
    cloudwatchLogsExports: ['error', 'slowquery'],
  });
  // `10.11` is the major version: RDS picks its current minor and auto minor
  // upgrades keep it there. The linters only know full versions.
  const engineVersionReason =
    'MariaDB 10.11 is given as the major version, which RDS accepts; pinning a minor would fight auto minor upgrades.';
  const cfnInstance = database.node.defaultChild as CfnResource;
  Validations.of(cfnInstance).acknowledge({ id: 'CloudFormation-Validate::E9006', reason: engineVersionReason });
  cfnInstance.addMetadata('cfn-lint', {
    config: { ignore_checks: ['E3691'] },
  });
  database.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });

  const migrations = new SchemaMigrations(stack, 'Migrations', {
    database,
    migrationsDir: props.migrationsDir,
    lambdaBinaryDir: props.lambdaBinaryDir,
    drain: props.drain,
    maintenancePage: { listenerArn: props.listenerArn },
    lockTimeout: Duration.seconds(10),
  });
  return { database, migrations };
}
