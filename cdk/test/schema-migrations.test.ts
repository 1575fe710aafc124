import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, NestedStack, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  EndpointsMode,
  MAINTENANCE_END_RESOURCE_TYPE,
  OnRollback,
  PROPERTY_NAMES,
  SchemaMigrations,
  SchemaMigrationsProps,
} from '../lib/schema-migrations';
import {
  cleanup,
  copyOfFixtureMigrations,
  databaseStack,
  FIXTURE_MIGRATIONS,
  fixtureLambdaDir,
  newApp,
  tempDir,
} from './helpers';

afterAll(cleanup);

const LAMBDA_DIR = fixtureLambdaDir();

const LISTENER_ARN =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2';

/** An Auto Scaling group with a rolling update policy, in `stack`. */
function rollingGroup(stack: Stack, vpc: ec2.IVpc, id = 'RollingAsg'): autoscaling.AutoScalingGroup {
  return new autoscaling.AutoScalingGroup(stack, id, {
    vpc,
    launchTemplate: new ec2.LaunchTemplate(stack, `${id}Lt`, {
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      instanceType: new ec2.InstanceType('t4g.small'),
      userData: ec2.UserData.forLinux(),
      role: new iam.Role(stack, `${id}Role`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
    }),
    minCapacity: 2,
    maxCapacity: 4,
    updatePolicy: autoscaling.UpdatePolicy.rollingUpdate(),
  });
}

type Resources = Record<string, { Type: string; Properties?: any; DependsOn?: string[]; [k: string]: any }>;

/** A SchemaMigrations on the helper's MariaDB instance (nothing synthesized yet). */
function buildMigrations(props: Partial<SchemaMigrationsProps> = {}) {
  const { stack, vpc, db } = databaseStack();
  const migrations = new SchemaMigrations(stack, 'Migrations', {
    database: db,
    migrationsDir: FIXTURE_MIGRATIONS,
    lambdaBinaryDir: LAMBDA_DIR,
    ...props,
  });
  return { stack, vpc, db, migrations };
}

/** {@link buildMigrations}, and its stack's template. */
function migrationsOnDatabase(props: Partial<SchemaMigrationsProps> = {}) {
  const built = buildMigrations(props);
  return { ...built, template: Template.fromStack(built.stack) };
}

function only(template: Template, type: string): [string, Resources[string]] {
  const found = Object.entries(template.findResources(type) as Resources);
  expect(found).toHaveLength(1);
  return found[0];
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: any } }): string {
  return stack.resolve((construct.node.defaultChild as any).logicalId);
}

/** Every statement of every policy attached to the role with this logical id. */
function statementsOfRole(template: Template, roleId: string): any[] {
  const statements: any[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy') as Resources)) {
    if (policy.Properties.Roles.some((r: any) => r.Ref === roleId)) {
      statements.push(...policy.Properties.PolicyDocument.Statement);
    }
  }
  const role = template.findResources('AWS::IAM::Role')[roleId] as Resources[string];
  for (const inline of role.Properties.Policies ?? []) {
    statements.push(...inline.PolicyDocument.Statement);
  }
  return statements;
}

const asList = (x: string | string[]) => (Array.isArray(x) ? x : [x]);

describe('the custom resource', () => {
  test('carries every property CloudFormation sends to the Lambda, as strings', () => {
    // GIVEN / WHEN every option is set
    const { stack, db, template } = migrationsOnDatabase({
      targetVersion: 2,
      databaseName: 'shop',
      initSql: ['SET FOREIGN_KEY_CHECKS=0', "SET time_zone='+00:00'"],
      baselineVersion: 1,
      onRollback: OnRollback.KEEP,
      lockTimeout: Duration.seconds(20),
      drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' },
      allowBreaking: false,
      adoptAlembic: false,
      timeout: Duration.minutes(5),
    });

    // THEN
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    const [functionId] = only(template, 'AWS::Lambda::Function');
    expect(resource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [functionId, 'Arn'] },
      ServiceTimeout: '360',
      SecretArn: { Ref: logicalId(stack, db.secret!) },
      DatabaseName: 'shop',
      TargetVersion: '2',
      MigrationsHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      InitSql: ['SET FOREIGN_KEY_CHECKS=0', "SET time_zone='+00:00'"],
      BaselineVersion: '1',
      OnRollback: 'keep',
      LockTimeoutSeconds: '20',
      DrainTagKey: 'schemagate:drain',
      DrainTagValue: 'prod-app',
      AllowBreaking: 'false',
      AdoptAlembic: 'false',
    });
  });

  test('sends exactly the names of properties.json (the Lambda accepts these), each documented with its prop', () => {
    // GIVEN / WHEN every option that sets a property, and a gated group with a rolling update
    const { stack, vpc, migrations } = buildMigrations({
      targetVersion: 2,
      databaseName: 'shop',
      initSql: ['SET FOREIGN_KEY_CHECKS=0'],
      baselineVersion: 1,
      onRollback: OnRollback.REVERT,
      lockTimeout: Duration.seconds(20),
      drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' },
      maintenancePage: { listenerArn: LISTENER_ARN, html: '<h1>Back soon</h1>', priority: 5 },
      allowBreaking: true,
      adoptAlembic: true,
    });
    migrations.gate(rollingGroup(stack, vpc));
    const template = Template.fromStack(stack);

    // THEN the construct sends every listed name and no other (besides the CDK's own), on its two resources
    const sent = new Set<string>();
    for (const type of ['Custom::SchemaMigrations', MAINTENANCE_END_RESOURCE_TYPE]) {
      const [, resource] = only(template, type);
      Object.keys(resource.Properties)
        .filter((k) => k !== 'ServiceToken' && k !== 'ServiceTimeout')
        .forEach((k) => sent.add(k));
    }
    expect([...sent].sort()).toEqual(Object.keys(PROPERTY_NAMES).sort());
    // AND the README names each property, and has a row for the prop that sets it
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    for (const [name, prop] of Object.entries(PROPERTY_NAMES)) {
      expect(readme).toContain(`\`${name}\``);
      expect(readme).toMatch(new RegExp(`^\\| \`${prop}\` \\|`, 'm'));
    }
  });

  test('omits unset properties, and the target defaults to the highest version in the folder', () => {
    // GIVEN / WHEN only the required props
    const { template } = migrationsOnDatabase();

    // THEN versions 1, 2, 10: the target is 10 (numerically highest, not "2" as text)
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    expect(Object.keys(resource.Properties).sort()).toEqual(
      ['MigrationsHash', 'SecretArn', 'ServiceTimeout', 'ServiceToken', 'TargetVersion'].sort(),
    );
    expect(resource.Properties.TargetVersion).toBe('10');
    // AND the service timeout is the Lambda's default 10 minutes plus one
    expect(resource.Properties.ServiceTimeout).toBe('660');
  });

  test('adoptAlembic: false turns off adopting a database Alembic made (AdoptAlembic), unset leaves it to the Lambda (on)', () => {
    // GIVEN / WHEN adoption is turned off
    const off = migrationsOnDatabase({ adoptAlembic: false }).template;
    // THEN the Lambda is told so
    off.hasResourceProperties('Custom::SchemaMigrations', { AdoptAlembic: 'false' });
    // AND unset, the property is not sent: the Lambda adopts by default
    const [, resource] = only(migrationsOnDatabase().template, 'Custom::SchemaMigrations');
    expect(resource.Properties).not.toHaveProperty('AdoptAlembic');
  });

  test('a change in one migration file changes MigrationsHash, and only that', () => {
    // GIVEN two synths of the same folder, one migration edited in between
    const dir = copyOfFixtureMigrations();
    const before = migrationsOnDatabase({ migrationsDir: dir }).template;
    fs.appendFileSync(path.join(dir, '1_create_users.up.sql'), '-- reviewed\n');

    // WHEN
    const after = migrationsOnDatabase({ migrationsDir: dir }).template;

    // THEN the hash differs, so CloudFormation sends an Update; the target does not
    const [, r1] = only(before, 'Custom::SchemaMigrations');
    const [, r2] = only(after, 'Custom::SchemaMigrations');
    expect(r2.Properties.MigrationsHash).not.toBe(r1.Properties.MigrationsHash);
    expect(r2.Properties.TargetVersion).toBe(r1.Properties.TargetVersion);
    // AND the Lambda's package changed with it (it carries the files)
    const [, f1] = only(before, 'AWS::Lambda::Function');
    const [, f2] = only(after, 'AWS::Lambda::Function');
    expect(f2.Properties.Code.S3Key).not.toEqual(f1.Properties.Code.S3Key);
  });

  test('a new migration file moves the default target to it', () => {
    // GIVEN
    const dir = copyOfFixtureMigrations();
    fs.writeFileSync(path.join(dir, '11_add_orders_total.up.sql'), 'ALTER TABLE orders ADD COLUMN total INT NULL;');
    fs.writeFileSync(path.join(dir, '11_add_orders_total.down.sql'), 'ALTER TABLE orders DROP COLUMN total;');

    // WHEN
    const { template, migrations } = migrationsOnDatabase({ migrationsDir: dir });

    // THEN
    template.hasResourceProperties('Custom::SchemaMigrations', { TargetVersion: '11' });
    expect(migrations.targetVersion).toBe('11');
  });

  test('on an Aurora cluster: reads its secret and waits for the cluster and its writer', () => {
    // GIVEN
    const app = newApp();
    const stack = new Stack(app, 'Aurora');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const cluster = new rds.DatabaseCluster(stack, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 }),
      writer: rds.ClusterInstance.serverlessV2('Writer'),
      vpc,
    });

    // WHEN
    new SchemaMigrations(stack, 'M', { database: cluster, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: LAMBDA_DIR });

    // THEN
    const template = Template.fromStack(stack);
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    const [clusterId] = only(template, 'AWS::RDS::DBCluster');
    const [writerId] = only(template, 'AWS::RDS::DBInstance');
    expect(resource.Properties.SecretArn).toEqual({ Ref: logicalId(stack, cluster.secret!) });
    expect(resource.DependsOn).toEqual(expect.arrayContaining([clusterId, writerId]));
  });

  test('exposes schemaVersion as the SchemaVersion attribute', () => {
    const { stack, migrations } = migrationsOnDatabase();
    expect(stack.resolve(migrations.schemaVersion)).toEqual({
      'Fn::GetAtt': [logicalId(stack, migrations.resource), 'SchemaVersion'],
    });
  });

  test('runs only after the database instance and the VPC endpoints exist', () => {
    // GIVEN / WHEN
    const { stack, db, template } = migrationsOnDatabase({ drain: { tagKey: 'k', tagValue: 'v' } });

    // THEN
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    const endpoints = Object.keys(template.findResources('AWS::EC2::VPCEndpoint'));
    expect(endpoints).toHaveLength(3);
    expect(resource.DependsOn).toEqual(expect.arrayContaining([logicalId(stack, db), ...endpoints]));
  });
});

describe('the Lambda', () => {
  test('is the arm64 provided.al2023 bootstrap, in the private subnets, with the SSL and log settings', () => {
    // GIVEN / WHEN
    const { stack, vpc, template } = migrationsOnDatabase();

    // THEN
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Architectures: ['arm64'],
      Handler: 'bootstrap',
      Timeout: 600,
      Environment: {
        Variables: { SCHEMAGATE_SSL_MODE: 'verify-full', SCHEMAGATE_SSL_CA: 'ca-bundle.pem', RUST_LOG: 'info' },
      },
      VpcConfig: {
        SubnetIds: vpc.privateSubnets.map((s) => stack.resolve(s.subnetId)),
      },
    });
  });

  test('carries lockWait as SCHEMAGATE_LOCK_WAIT_SECONDS, in fractional seconds', () => {
    // GIVEN / WHEN
    const { template } = migrationsOnDatabase({ lockWait: Duration.millis(750) });

    // THEN
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          SCHEMAGATE_SSL_MODE: 'verify-full',
          SCHEMAGATE_SSL_CA: 'ca-bundle.pem',
          RUST_LOG: 'info',
          SCHEMAGATE_LOCK_WAIT_SECONDS: '0.75',
        },
      },
    });
  });

  test('its one asset holds the bootstrap, the migrations folder and the CA bundle', () => {
    // GIVEN
    const { stack, template } = migrationsOnDatabase();
    const [, fn] = only(template, 'AWS::Lambda::Function');

    // WHEN the asset that the function's S3Key names is looked up in the cloud assembly
    const assembly = (stack.node.root as App).synth();
    const hash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
    const assetDir = path.join(assembly.directory, `asset.${hash}`);

    // THEN
    expect(fs.readdirSync(assetDir).sort()).toEqual(['bootstrap', 'ca-bundle.pem', 'migrations']);
    expect(fs.statSync(path.join(assetDir, 'bootstrap')).mode & 0o111).not.toBe(0);
    expect(fs.readdirSync(path.join(assetDir, 'migrations')).sort()).toEqual([
      '10_create_orders.sql',
      '1_create_users.down.sql',
      '1_create_users.up.sql',
      '2_add_user_email.down.sql',
      '2_add_user_email.up.sql',
    ]);
  });

  test('the bootstrap folder comes from the prop, else the context key, else SCHEMAGATE_LAMBDA_DIR', () => {
    // GIVEN three folders with different bootstraps
    const fromContext = tempDir('ctx');
    fs.writeFileSync(path.join(fromContext, 'bootstrap'), 'context');
    const fromEnv = tempDir('env');
    fs.writeFileSync(path.join(fromEnv, 'bootstrap'), 'env');
    const s3KeyOf = (app = newApp(), props: Partial<SchemaMigrationsProps> = {}) => {
      const { stack, db } = databaseStack(app);
      new SchemaMigrations(stack, 'M', { database: db, migrationsDir: FIXTURE_MIGRATIONS, ...props });
      return only(Template.fromStack(stack), 'AWS::Lambda::Function')[1].Properties.Code.S3Key;
    };
    const saved = process.env.SCHEMAGATE_LAMBDA_DIR;
    try {
      process.env.SCHEMAGATE_LAMBDA_DIR = fromEnv;
      // WHEN / THEN the three sources give three different packages, in that order of precedence
      const envKey = s3KeyOf();
      const contextKey = s3KeyOf(newApp({ schemagateLambdaDir: fromContext }));
      const propKey = s3KeyOf(newApp({ schemagateLambdaDir: fromContext }), { lambdaBinaryDir: LAMBDA_DIR });
      expect(new Set([envKey, contextKey, propKey]).size).toBe(3);
      expect(s3KeyOf(newApp(), { lambdaBinaryDir: LAMBDA_DIR })).toBe(propKey);
      delete process.env.SCHEMAGATE_LAMBDA_DIR;
      expect(s3KeyOf(newApp({ schemagateLambdaDir: fromContext }))).toBe(contextKey);
    } finally {
      if (saved === undefined) delete process.env.SCHEMAGATE_LAMBDA_DIR;
      else process.env.SCHEMAGATE_LAMBDA_DIR = saved;
    }
  });

  test('without a bootstrap, synth stops and says to run make build', () => {
    const { stack, db } = databaseStack();
    const empty = tempDir('nobootstrap');
    expect(
      () => new SchemaMigrations(stack, 'M', { database: db, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: empty }),
    ).toThrow(/no Lambda binary at `.*\/bootstrap`\. Run `make build`.*schemagateLambdaDir.*SCHEMAGATE_LAMBDA_DIR/);
  });

  test("the function's description names the schemagate version recorded beside the bootstrap", () => {
    // GIVEN a binary folder with VERSION (as make build and make package write it), and one without
    const versioned = tempDir('versioned');
    fs.writeFileSync(path.join(versioned, 'bootstrap'), 'versioned');
    fs.writeFileSync(path.join(versioned, 'VERSION'), '0.7.3\n');
    const descriptionWith = (lambdaBinaryDir: string) =>
      only(migrationsOnDatabase({ lambdaBinaryDir }).template, 'AWS::Lambda::Function')[1].Properties.Description;

    // THEN the version comes first; without one, the description has none
    expect(descriptionWith(versioned)).toBe('schemagate 0.7.3: applies the bundled schema migrations (target 10)');
    expect(descriptionWith(LAMBDA_DIR)).toBe('schemagate: applies the bundled schema migrations (target 10)');
  });

  test("package.json's version is the crate's (lambda/Cargo.toml), the one source of version numbers", () => {
    const cargo = fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'Cargo.toml'), 'utf8');
    const crateVersion = /^version = "([^"]+)"$/m.exec(cargo)![1];
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.version).toBe(crateVersion);
  });
});

describe('least privilege', () => {
  test('the role reads exactly that secret, with secretsmanager:GetSecretValue and nothing else', () => {
    // GIVEN / WHEN
    const { stack, db, migrations, template } = migrationsOnDatabase();

    // THEN
    const roleId = stack.resolve((migrations.function.role!.node.defaultChild as any).logicalId);
    const statements = statementsOfRole(template, roleId);
    const secretStatements = statements.filter((s) => asList(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toEqual([
      { Sid: 'ReadDatabaseSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: logicalId(stack, db.secret!) } },
    ]);
    // AND no statement grants a wildcard action, and the role has no managed policies
    for (const s of statements) {
      expect(asList(s.Action).filter((a: string) => a.includes('*'))).toEqual([]);
    }
    const role = template.findResources('AWS::IAM::Role')[roleId] as Resources[string];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    // AND the only other permissions are logs on its own log group and the VPC network interfaces
    expect(statements.map((s) => s.Sid).sort()).toEqual(['AttachToVpc', 'ReadDatabaseSecret', 'WriteLogs']);
    const [logGroupId] = only(template, 'AWS::Logs::LogGroup');
    expect(statements.find((s) => s.Sid === 'WriteLogs')).toMatchObject({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
    });
  });

  test('a secret encrypted with a customer key adds kms:Decrypt on that key, via Secrets Manager only', () => {
    // GIVEN
    const { stack, vpc, db } = databaseStack();
    const key = new kms.Key(stack, 'Key');
    const secret = new secretsmanager.Secret(stack, 'Secret', { encryptionKey: key });

    // WHEN
    new SchemaMigrations(stack, 'M', {
      secret,
      connections: db,
      vpc,
      migrationsDir: FIXTURE_MIGRATIONS,
      lambdaBinaryDir: LAMBDA_DIR,
    });

    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'ReadDatabaseSecret', Resource: { Ref: logicalId(stack, secret) } }),
          {
            Sid: 'DecryptDatabaseSecret',
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] },
            Condition: {
              StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            },
          },
        ]),
      },
    });
  });

  test('drain grants Auto Scaling changes only on groups carrying the drain tag', () => {
    // GIVEN / WHEN
    const { template } = migrationsOnDatabase({ drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' } });

    // THEN
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'FindDrainTargets',
            Effect: 'Allow',
            Action: 'autoscaling:DescribeAutoScalingGroups',
            Resource: '*',
          },
          {
            Sid: 'DrainTaggedGroups',
            Effect: 'Allow',
            Action: ['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags', 'autoscaling:UpdateAutoScalingGroup'],
            Resource: Match.anyValue(),
            Condition: { StringEquals: { 'autoscaling:ResourceTag/schemagate:drain': 'prod-app' } },
          },
        ]),
      },
    });
  });

  test('without drain, no Auto Scaling permission and no Auto Scaling endpoint', () => {
    const { template } = migrationsOnDatabase();
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('autoscaling:');
    expect(JSON.stringify(template.findResources('AWS::EC2::VPCEndpoint'))).not.toContain('autoscaling');
  });

  test("the Lambda's security group reaches the database port on the database's group, and HTTPS, nothing else", () => {
    // GIVEN / WHEN
    const { stack, db, migrations, template } = migrationsOnDatabase();
    const lambdaSg = stack.resolve(migrations.securityGroup.securityGroupId);
    const dbSg = stack.resolve(db.connections.securityGroups[0].securityGroupId);
    const port = stack.resolve(db.dbInstanceEndpointPort);

    // THEN its inline egress is HTTPS only (no allow-all rule)
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'schemagate migrations Lambda: the database port and HTTPS only',
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ],
    });
    // AND one egress rule to the database's group on its port, matched by an ingress rule there
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress') as Resources);
    expect(egress.map((r) => r.Properties)).toEqual([
      expect.objectContaining({ GroupId: lambdaSg, DestinationSecurityGroupId: dbSg, FromPort: port, ToPort: port }),
    ]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: dbSg,
      SourceSecurityGroupId: lambdaSg,
      FromPort: port,
      ToPort: port,
    });
  });
});

describe('VPC endpoints', () => {
  test('Secrets Manager (interface, private DNS) and S3 (gateway) are created once per VPC', () => {
    // GIVEN two SchemaMigrations in one VPC
    const { stack, db } = databaseStack();
    for (const id of ['A', 'B']) {
      new SchemaMigrations(stack, id, { database: db, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: LAMBDA_DIR });
    }

    // WHEN
    const template = Template.fromStack(stack);

    // THEN
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint') as Resources);
    const services = endpoints.map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(endpoints).toHaveLength(2);
    expect(services.filter((s) => s.includes('secretsmanager'))).toHaveLength(1);
    expect(services.filter((s) => s.includes('.s3'))).toHaveLength(1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
  });

  test('endpoints: EndpointsMode.EXISTING creates none', () => {
    const { template } = migrationsOnDatabase({ endpoints: EndpointsMode.EXISTING });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('validation', () => {
  const errors: [string, Partial<SchemaMigrationsProps>, RegExp][] = [
    ['a target version not in the folder', { targetVersion: 3 }, /targetVersion `3` is not a migration in .* \(versions there: 1, 2, 10\); pick one/],
    ['a negative target version', { targetVersion: -1 }, /targetVersion `-1` is not a migration version/],
    ['a baseline above the target', { targetVersion: 2, baselineVersion: 5 }, /baselineVersion `5` is above targetVersion `2`/],
    ['a fractional baseline', { baselineVersion: 1.5 }, /baselineVersion `1.5` must be a non-negative whole number/],
    ['an unknown onRollback', { onRollback: 'drop' as any }, /onRollback `drop` must be 'revert' or 'keep'/],
    ['an unknown endpoints mode', { endpoints: 'none' as any }, /endpoints `none` must be 'create' or 'existing'/],
    ['a timeout above 15 minutes', { timeout: Duration.minutes(20) }, /timeout `20 minutes` must be between 30 seconds and 15 minutes.*schemagate CLI/],
    ['a lock timeout as long as the timeout', { timeout: Duration.minutes(1), lockTimeout: Duration.minutes(1) }, /lockTimeout `1 minute` must be at least 1 second and shorter than timeout/],
    ['a lock wait as long as the timeout', { timeout: Duration.minutes(1), lockWait: Duration.minutes(1) }, /lockWait `1 minute` must be at least 1 millisecond and shorter than timeout/],
    ['an empty initSql statement', { initSql: ['SET x=1', ' '] }, /initSql\[1\] is empty/],
    ['a drain without a value', { drain: { tagKey: 'k', tagValue: '' } }, /drain needs both `tagKey` and `tagValue`/],
    ['a drain on an aws: tag', { drain: { tagKey: 'aws:autoscaling:groupName', tagValue: 'x' } }, /reserved by AWS/],
    ['an empty databaseName', { databaseName: '' }, /databaseName is empty/],
    ['a migrations folder that does not exist', { migrationsDir: '/nonexistent' }, /migrationsDir `\/nonexistent` is not a folder/],
  ];
  test.each(errors)('refuses %s, saying what to do', (_what, props, message) => {
    const { stack, db } = databaseStack();
    expect(
      () => new SchemaMigrations(stack, 'M', { database: db, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: LAMBDA_DIR, ...props }),
    ).toThrow(message);
  });

  test('refuses no database, and a database given twice', () => {
    const { stack, db, vpc } = databaseStack();
    const base = { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: LAMBDA_DIR };
    expect(() => new SchemaMigrations(stack, 'A', base)).toThrow(/no database given\. Pass `database`.*or `secret`.*`connections`.*and `vpc`/);
    expect(() => new SchemaMigrations(stack, 'B', { ...base, database: db, secret: db.secret })).toThrow(/either `database`, or `secret` and `connections`, not both/);
    expect(() => new SchemaMigrations(stack, 'C', { ...base, secret: db.secret, connections: db })).toThrow(/`vpc` is required with `secret` and `connections`/);
    const noPort = new ec2.Connections({ securityGroups: db.connections.securityGroups });
    expect(() => new SchemaMigrations(stack, 'D', { ...base, secret: db.secret, connections: { connections: noPort }, vpc })).toThrow(/has no default port.*defaultPort: ec2\.Port\.tcp\(3306\)/);
  });
});

describe('gate', () => {
  function launchTemplateIn(stack: Stack) {
    return new ec2.LaunchTemplate(stack, 'Lt', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      instanceType: new ec2.InstanceType('t4g.small'),
      userData: ec2.UserData.forLinux(),
      role: new iam.Role(stack, 'InstanceRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
    });
  }
  function asgIn(stack: Stack, vpc: ec2.IVpc, minCapacity = 2) {
    const launchTemplate = launchTemplateIn(stack);
    return new autoscaling.AutoScalingGroup(stack, 'Asg', { vpc, launchTemplate, minCapacity, maxCapacity: 4 });
  }

  test('in the same stack: user data carries the SchemaVersion attribute; replacing update; waits for signals', () => {
    // GIVEN
    const { stack, vpc, migrations } = buildMigrations();
    const asg = asgIn(stack, vpc, 3);

    // WHEN
    migrations.gate(asg);

    // THEN
    const template = Template.fromStack(stack);
    const crId = logicalId(stack, migrations.resource);
    const [asgId, group] = only(template, 'AWS::AutoScaling::AutoScalingGroup');
    expect(group.UpdatePolicy.AutoScalingReplacingUpdate).toEqual({ WillReplace: true });
    expect(group.CreationPolicy).toEqual({
      ResourceSignal: { Count: 3, Timeout: 'PT15M' },
      AutoScalingCreationPolicy: { MinSuccessfulInstancesPercent: 100 },
    });
    expect(group.DependsOn).toContain(crId);
    const [, lt] = only(template, 'AWS::EC2::LaunchTemplate');
    const userData = lt.Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1];
    expect(userData).toContainEqual({ 'Fn::GetAtt': [crId, 'SchemaVersion'] });
    const text = userData.map((p: any) => (typeof p === 'string' ? p : '<VERSION>')).join('');
    expect(text).toContain('# schemagate schema version: <VERSION>\n');
    expect(text).toContain("echo 'SCHEMAGATE_SCHEMA_VERSION=<VERSION>' > /etc/schemagate/schema.env");
    expect(text).toContain(`/opt/aws/bin/cfn-signal --stack Data --resource ${asgId}`);
  });

  test('gating a group twice changes nothing', () => {
    const { stack, vpc, migrations } = buildMigrations();
    const asg = asgIn(stack, vpc);
    migrations.gate(asg);
    const once = JSON.stringify(stack.resolve((asg.userData as ec2.UserData).render()));
    migrations.gate(asg);
    expect(JSON.stringify(stack.resolve(asg.userData.render()))).toBe(once);
  });

  test('keeps a rolling update policy and signals the group already has', () => {
    // GIVEN
    const { stack, vpc, migrations } = buildMigrations();
    const launchTemplate = launchTemplateIn(stack);
    const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', {
      vpc,
      launchTemplate,
      minCapacity: 2,
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate(),
      signals: autoscaling.Signals.waitForCount(1, { timeout: Duration.minutes(7) }),
    });

    // WHEN
    migrations.gate(asg);

    // THEN
    const [, group] = only(Template.fromStack(stack), 'AWS::AutoScaling::AutoScalingGroup');
    expect(group.UpdatePolicy.AutoScalingReplacingUpdate).toBeUndefined();
    expect(group.UpdatePolicy.AutoScalingRollingUpdate).toBeDefined();
    expect(group.CreationPolicy.ResourceSignal).toEqual({ Count: 1, Timeout: 'PT7M' });
  });

  test('with drain, a group that rolls keeps its rolling update, and the Lambda is told to refuse a drain (RollingUpdate)', () => {
    // GIVEN migrations that drain, and a group with a rolling update policy
    const { stack, vpc, migrations } = buildMigrations({ drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' } });
    const asg = rollingGroup(stack, vpc);

    // WHEN
    migrations.gate(asg);

    // THEN the group rolls: the pending migrations decide at deploy time (online, expand or contract pass; a
    // migration that needs a drain is refused with nothing applied, as a drain would keep a rolling group at 0)
    const template = Template.fromStack(stack);
    const [, group] = only(template, 'AWS::AutoScaling::AutoScalingGroup');
    expect(group.UpdatePolicy.AutoScalingRollingUpdate).toBeDefined();
    expect(group.UpdatePolicy.AutoScalingReplacingUpdate).toBeUndefined();
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    expect(resource.Properties.RollingUpdate).toBe('true');
    Annotations.fromStack(stack).hasInfo(`/${asg.node.path}`, Match.stringLikeRegexp('refused with nothing applied'));
  });

  test('with drain, a group without an update policy gets the replacing update, and the Lambda drains (no RollingUpdate)', () => {
    // GIVEN
    const { stack, vpc, migrations } = buildMigrations({ drain: { tagKey: 'schemagate:drain', tagValue: 'prod-app' } });

    // WHEN
    migrations.gate(asgIn(stack, vpc));

    // THEN
    const template = Template.fromStack(stack);
    const [, group] = only(template, 'AWS::AutoScaling::AutoScalingGroup');
    expect(group.UpdatePolicy.AutoScalingReplacingUpdate).toEqual({ WillReplace: true });
    expect(group.UpdatePolicy.AutoScalingRollingUpdate).toBeUndefined();
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    expect(resource.Properties.RollingUpdate).toBeUndefined();
  });

  test('without drain, a rolling group needs no refusal: nothing is ever drained (no RollingUpdate)', () => {
    // GIVEN
    const { stack, vpc, migrations } = buildMigrations();

    // WHEN
    migrations.gate(rollingGroup(stack, vpc));

    // THEN
    const [, resource] = only(Template.fromStack(stack), 'Custom::SchemaMigrations');
    expect(resource.Properties.RollingUpdate).toBeUndefined();
  });

  test('in nested stacks of one parent: no SSM parameter and no export, CDK passes the attribute as a parameter', () => {
    // GIVEN the data and the app as nested stacks of one parent (the remedy for a cross-stack rollback)
    const app = newApp();
    const parent = new Stack(app, 'Parent');
    const data = new NestedStack(parent, 'Data');
    const appStack = new NestedStack(parent, 'App');
    const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const db = new rds.DatabaseInstance(data, 'Db', {
      engine: rds.DatabaseInstanceEngine.mariaDb({ version: rds.MariaDbEngineVersion.VER_10_11 }),
      vpc,
    });
    const migrations = new SchemaMigrations(data, 'Migrations', { database: db, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: LAMBDA_DIR });

    // WHEN
    migrations.gate(asgIn(appStack, vpc));

    // THEN
    for (const s of [parent, data, appStack]) {
      const template = Template.fromStack(s);
      template.resourceCountIs('AWS::SSM::Parameter', 0);
      expect(JSON.stringify(template.toJSON())).not.toContain('Fn::ImportValue');
    }
    // AND the data nested stack outputs the attribute, which the parent hands the app nested stack as a
    // parameter, and the app nested stack depends on the data one: one stack operation, one rollback
    const crId = logicalId(data, migrations.resource);
    const outputs = Object.entries(Template.fromStack(data).toJSON().Outputs as Record<string, any>).filter(
      ([, o]) => JSON.stringify(o.Value) === JSON.stringify({ 'Fn::GetAtt': [crId, 'SchemaVersion'] }),
    );
    expect(outputs).toHaveLength(1);
    const parentResources = Template.fromStack(parent).toJSON().Resources;
    const dataId = parent.resolve(data.nestedStackResource!.logicalId);
    const appId = parent.resolve(appStack.nestedStackResource!.logicalId);
    expect(Object.values(parentResources[appId].Properties.Parameters)).toContainEqual({
      'Fn::GetAtt': [dataId, `Outputs.${outputs[0][0]}`],
    });
    expect(parentResources[appId].DependsOn).toContain(dataId);
  });
});

describe('maintenance page', () => {
  const DRAIN = { tagKey: 'schemagate:drain', tagValue: 'prod-app' };

  test('sends the listener, the HTML and the priority; IAM only on that listener and its tagged rules; an ELB endpoint', () => {
    // GIVEN / WHEN
    const { stack, template } = migrationsOnDatabase({
      drain: DRAIN,
      maintenancePage: { listenerArn: LISTENER_ARN, html: '<h1>Back soon</h1>', priority: 5 },
    });

    // THEN
    const [, resource] = only(template, 'Custom::SchemaMigrations');
    expect(resource.Properties).toMatchObject({
      MaintenanceListenerArn: LISTENER_ARN,
      MaintenanceHtml: '<h1>Back soon</h1>',
      MaintenancePriority: '5',
    });
    const [roleId] = only(template, 'AWS::IAM::Role');
    const statements = statementsOfRole(template, roleId);
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
    const rules = {
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':elasticloadbalancing:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':listener-rule/app/*'],
      ],
    };
    expect(bySid('ReadListenerRules')).toMatchObject({
      Action: ['elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTags'],
      Resource: '*',
    });
    expect(bySid('PutMaintenancePage')).toEqual({
      Sid: 'PutMaintenancePage',
      Effect: 'Allow',
      Action: 'elasticloadbalancing:CreateRule',
      Resource: LISTENER_ARN,
      Condition: { Null: { 'aws:RequestTag/schemagate:maintenance': 'false' } },
    });
    expect(stack.resolve(bySid('TagMaintenancePage'))).toMatchObject({
      Action: 'elasticloadbalancing:AddTags',
      Resource: rules,
      Condition: { StringEquals: { 'elasticloadbalancing:CreateAction': 'CreateRule' } },
    });
    expect(stack.resolve(bySid('RemoveMaintenancePage'))).toMatchObject({
      Action: 'elasticloadbalancing:DeleteRule',
      Resource: rules,
      Condition: { Null: { 'aws:ResourceTag/schemagate:maintenance': 'false' } },
    });
    // no other ELB action anywhere
    const elbActions = statements.flatMap((s) => asList(s.Action)).filter((a: string) => a.startsWith('elasticloadbalancing:'));
    expect(elbActions.sort()).toEqual([
      'elasticloadbalancing:AddTags',
      'elasticloadbalancing:CreateRule',
      'elasticloadbalancing:DeleteRule',
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:DescribeTags',
    ]);
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    expect(endpoints.filter((n) => n.includes('.elasticloadbalancing'))).toHaveLength(1);
  });

  test('without a page: no ELB permission, no ELB endpoint, no end-maintenance resource', () => {
    // GIVEN / WHEN
    const { stack, vpc, migrations } = buildMigrations({ drain: DRAIN });
    migrations.gate(rollingGroup(stack, vpc));
    const template = Template.fromStack(stack);

    // THEN
    const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find((k) => k.startsWith('MigrationsServiceRole'))!;
    const actions = statementsOfRole(template, roleId).flatMap((s) => asList(s.Action));
    expect(actions.filter((a: string) => a.startsWith('elasticloadbalancing:'))).toEqual([]);
    expect(JSON.stringify(template.findResources('AWS::EC2::VPCEndpoint'))).not.toContain('.elasticloadbalancing');
    template.resourceCountIs(MAINTENANCE_END_RESOURCE_TYPE, 0);
  });

  test("gate() puts one end-maintenance resource in the groups' stack, after every gated group, with the schema version", () => {
    // GIVEN the migrations in a data stack and two groups in an app stack of their own
    const app = newApp();
    const { stack: data, db } = databaseStack(app, 'Data');
    const migrations = new SchemaMigrations(data, 'Migrations', {
      database: db,
      migrationsDir: FIXTURE_MIGRATIONS,
      lambdaBinaryDir: LAMBDA_DIR,
      drain: DRAIN,
      maintenancePage: { listenerArn: LISTENER_ARN },
    });
    const appStack = new Stack(app, 'App');
    const vpc = ec2.Vpc.fromVpcAttributes(appStack, 'Vpc', {
      vpcId: 'vpc-1',
      availabilityZones: ['eu-west-1a'],
      privateSubnetIds: ['subnet-1'],
    });
    const web = new autoscaling.AutoScalingGroup(appStack, 'Web', {
      vpc,
      instanceType: new ec2.InstanceType('t4g.small'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      minCapacity: 2,
    });
    const worker = new autoscaling.AutoScalingGroup(appStack, 'Worker', {
      vpc,
      instanceType: new ec2.InstanceType('t4g.small'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      minCapacity: 1,
    });

    // WHEN
    migrations.gate(web);
    migrations.gate(worker);
    migrations.gate(web);

    // THEN one resource, in the app stack, depending on both groups
    const template = Template.fromStack(appStack);
    const [, end] = only(template, MAINTENANCE_END_RESOURCE_TYPE);
    expect(end.DependsOn).toEqual(expect.arrayContaining([logicalId(appStack, web), logicalId(appStack, worker)]));
    expect(end.Properties.Action).toBe('end-maintenance');
    expect(end.Properties.MaintenanceListenerArn).toBe(LISTENER_ARN);
    // the version the groups' user data carries, so every schema change updates it after the groups
    const [versionParam] = Object.keys(template.toJSON().Parameters).filter((p) => p.includes('schemaversion'));
    expect(end.Properties.SchemaVersion).toEqual({ Ref: versionParam });
    expect(end.Properties.ServiceToken).toEqual({ 'Fn::ImportValue': expect.stringContaining('Data') });
    Template.fromStack(data).resourceCountIs(MAINTENANCE_END_RESOURCE_TYPE, 0);
  });

  test('refuses an HTML over 1024 characters, a page without drain, a priority out of range, a bad ARN', () => {
    const page = { listenerArn: LISTENER_ARN };
    expect(() => buildMigrations({ drain: DRAIN, maintenancePage: { ...page, html: 'x'.repeat(1024) } })).not.toThrow();
    expect(() => buildMigrations({ drain: DRAIN, maintenancePage: { ...page, html: 'é'.repeat(1025) } })).toThrow(
      /maintenancePage.html is 1025 characters long; an ALB fixed response body holds at most 1024/,
    );
    expect(() => buildMigrations({ maintenancePage: page })).toThrow(/maintenancePage needs `drain`/);
    expect(() => buildMigrations({ drain: DRAIN, maintenancePage: { ...page, priority: 0 } })).toThrow(
      /maintenancePage.priority `0` must be a whole number from 1 to 50000/,
    );
    expect(() =>
      buildMigrations({ drain: DRAIN, maintenancePage: { listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/1' } }),
    ).toThrow(/is not an ALB listener ARN/);
  });
});
