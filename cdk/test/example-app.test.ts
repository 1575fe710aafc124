/**
 * The example app (Network → Data → App), synthesized once for the file, and
 * checked through what CloudFormation gets: the cloud assembly's templates
 * and its stack dependencies.
 */
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleApp, ExampleStacks } from '../lib/example-app';
import { cleanup, FIXTURE_MIGRATIONS, fixtureLambdaDir, newApp } from './helpers';

type Template = { Resources: Record<string, any>; Parameters?: Record<string, any>; Outputs?: Record<string, any> };

let app: App;
let stacks: ExampleStacks;
let assembly: cxapi.CloudAssembly;
let network: Template;
let data: Template;
let appTemplate: Template;

beforeAll(() => {
  // GIVEN the example app for the default environment, on the fixture migrations
  app = newApp();
  stacks = buildExampleApp(app, { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir() });
  // WHEN it is synthesized (cdk-nag runs here as a validation plugin: a violation fails the synth)
  assembly = app.synth();
  network = assembly.getStackByName('dev-network').template;
  data = assembly.getStackByName('dev-data').template;
  appTemplate = assembly.getStackByName('dev-app').template;
});
afterAll(cleanup);

const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** The parts of a launch template's user data: strings and intrinsics. */
function userDataParts(lt: any): any[] {
  const b64 = lt.Properties.LaunchTemplateData.UserData['Fn::Base64'];
  return typeof b64 === 'string' ? [b64] : b64['Fn::Join'][1];
}

describe('deploy order', () => {
  test('cdk deploy --all goes Network → Data → App', () => {
    // THEN the assembly's stack dependencies say so
    const stackDeps = (name: string) =>
      assembly
        .getStackByName(name)
        .dependencies.filter((d) => d instanceof cxapi.CloudFormationStackArtifact)
        .map((d) => d.id)
        .sort();
    expect(stackDeps('dev-network')).toEqual([]);
    expect(stackDeps('dev-data')).toEqual(['dev-network']);
    expect(stackDeps('dev-app')).toEqual(['dev-data', 'dev-network']);

    // AND a topological sort of them has one answer
    const order: string[] = [];
    const pending = ['dev-app', 'dev-data', 'dev-network'];
    while (pending.length > 0) {
      const ready = pending.filter((s) => stackDeps(s).every((d) => order.includes(d)));
      expect(ready).toHaveLength(1);
      order.push(ready[0]);
      pending.splice(pending.indexOf(ready[0]), 1);
    }
    expect(order).toEqual(['dev-network', 'dev-data', 'dev-app']);
  });
});

describe('the app instances are gated on the schema version', () => {
  test("both launch templates' user data come from the custom resource's SchemaVersion, through an SSM parameter", () => {
    // GIVEN the Custom::SchemaMigrations of the DataStack
    const customResources = ofType(data, 'Custom::SchemaMigrations');
    expect(customResources).toHaveLength(1);
    const [crId] = customResources[0];

    // THEN each of the two launch templates of the AppStack ...
    const launchTemplates = ofType(appTemplate, 'AWS::EC2::LaunchTemplate');
    expect(launchTemplates).toHaveLength(2);
    for (const [ltId, lt] of launchTemplates) {
      // ... writes a stack parameter into its user data ...
      const refs = userDataParts(lt).filter((p) => typeof p === 'object' && 'Ref' in p && !p.Ref.startsWith('AWS::'));
      expect(refs.length).toBeGreaterThanOrEqual(1);
      const parameterNames = new Set(refs.map((r) => r.Ref));
      expect(parameterNames.size).toBe(1);
      const [parameterId] = [...parameterNames];
      // ... that CloudFormation resolves from SSM at every deploy ...
      const parameter = appTemplate.Parameters![parameterId];
      expect(parameter).toMatchObject({ Type: 'AWS::SSM::Parameter::Value<String>' });
      // ... from the parameter that the DataStack sets to Fn::GetAtt <custom resource>.SchemaVersion
      const ssmParameters = ofType(data, 'AWS::SSM::Parameter').filter(([, p]) => p.Properties.Name === parameter.Default);
      expect(ssmParameters).toHaveLength(1);
      expect(ssmParameters[0][1].Properties.Value).toEqual({ 'Fn::GetAtt': [crId, 'SchemaVersion'] });

      const text = userDataParts(lt)
        .map((p) => (typeof p === 'string' ? p : p.Ref === parameterId ? '<VERSION>' : '<X>'))
        .join('');
      expect(text).toContain('# schemagate schema version: <VERSION>\n');
      expect(text).toContain("echo 'SCHEMAGATE_SCHEMA_VERSION=<VERSION>' > /etc/schemagate/schema.env");
      // AND the env file is written before the app's service starts
      expect(text.indexOf('schema.env')).toBeLessThan(text.indexOf('systemctl enable --now'));
      expect(ltId).toBeTruthy();
    }
  });

  test('SchemaVersion is not an export: CloudFormation refuses to change an exported value that another stack imports', () => {
    const outputs = Object.values(data.Outputs ?? {});
    expect(outputs.filter((o) => JSON.stringify(o.Value).includes('SchemaVersion'))).toEqual([]);
    // AND the AppStack imports nothing from the DataStack (only the VPC's ids from the NetworkStack)
    const imports = JSON.stringify(appTemplate).match(/"Fn::ImportValue":"[^"]*"/g) ?? [];
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) {
      expect(i).toMatch(/"Fn::ImportValue":"dev-network:/);
    }
  });

  test('both groups replace their instances on a launch template change, after all new instances signalled', () => {
    const groups = ofType(appTemplate, 'AWS::AutoScaling::AutoScalingGroup');
    expect(groups).toHaveLength(2);
    const launchTemplateIds = ofType(appTemplate, 'AWS::EC2::LaunchTemplate').map(([id]) => id).sort();
    expect(groups.map(([, g]) => g.Properties.LaunchTemplate.LaunchTemplateId.Ref).sort()).toEqual(launchTemplateIds);
    for (const [, g] of groups) {
      expect(g.Properties.LaunchTemplate.Version).toEqual({
        'Fn::GetAtt': [g.Properties.LaunchTemplate.LaunchTemplateId.Ref, 'LatestVersionNumber'],
      });
      expect(g.UpdatePolicy.AutoScalingReplacingUpdate).toEqual({ WillReplace: true });
      expect(g.CreationPolicy).toEqual({
        ResourceSignal: { Count: Number(g.Properties.MinSize), Timeout: 'PT15M' },
        AutoScalingCreationPolicy: { MinSuccessfulInstancesPercent: 100 },
      });
    }
  });

  test('both groups carry the drain tag the migrations are given, and the web group is behind the ALB', () => {
    const [, cr] = ofType(data, 'Custom::SchemaMigrations')[0];
    expect(cr.Properties).toMatchObject({ DrainTagKey: 'schemagate:drain', DrainTagValue: 'dev-app' });
    const groups = ofType(appTemplate, 'AWS::AutoScaling::AutoScalingGroup');
    for (const [, g] of groups) {
      expect(g.Properties.Tags).toContainEqual({ Key: 'schemagate:drain', Value: 'dev-app', PropagateAtLaunch: true });
    }
    expect(groups.filter(([, g]) => g.Properties.TargetGroupARNs)).toHaveLength(1);
    expect(ofType(appTemplate, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[0][1].Properties.Scheme).toBe('internet-facing');
  });
});

describe('the DataStack', () => {
  test('MariaDB 10.11 with a generated secret and encrypted storage; the migrations run after it exists', () => {
    const [dbId, db] = ofType(data, 'AWS::RDS::DBInstance')[0];
    expect(db.Properties).toMatchObject({ Engine: 'mariadb', EngineVersion: '10.11', StorageEncrypted: true });
    const [attachmentId] = ofType(data, 'AWS::SecretsManager::SecretTargetAttachment')[0];
    const [, cr] = ofType(data, 'Custom::SchemaMigrations')[0];
    expect(cr.Properties.SecretArn).toEqual({ Ref: attachmentId });
    expect(cr.DependsOn).toContain(dbId);
    expect(cr.Properties.TargetVersion).toBe('10');
  });
});

describe('cdk-nag', () => {
  test('AwsSolutions finds nothing on any stack', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('every acknowledged AwsSolutions rule is one of the known few, each with a reason', () => {
    // GIVEN every cdk_nag acknowledgment written into the templates
    const acknowledged: string[] = [];
    const reasons = new Map<string, string>();
    for (const [stackName, template] of [
      ['dev-network', network],
      ['dev-data', data],
      ['dev-app', appTemplate],
    ] as const) {
      for (const r of Object.values(template.Resources)) {
        for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
          if (rule.id.startsWith('AwsSolutions-')) {
            acknowledged.push(`${stackName} ${r.Type} ${rule.id}`);
            reasons.set(rule.id, rule.reason);
          }
        }
      }
    }

    // THEN they are exactly these (a new one must be added here, with its reason reviewed)
    const autoscalingArn =
      'arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*';
    expect(acknowledged.sort()).toEqual(
      [
        // the internet-facing ALB's security group: HTTP from anywhere is its job
        'dev-app AWS::EC2::SecurityGroup AwsSolutions-EC23',
        // access logs need the region at synth; the example is environment-agnostic
        'dev-app AWS::ElasticLoadBalancingV2::LoadBalancer AwsSolutions-ELB2',
        // the Secrets Manager and Auto Scaling endpoints admit the VPC CIDR (a reference nag cannot read)
        'dev-data AWS::EC2::SecurityGroup AwsSolutions-EC23',
        'dev-data AWS::EC2::SecurityGroup AwsSolutions-EC23',
        // the migrations Lambda: ENI and Auto Scaling Describe* on *, drain limited by tag condition
        'dev-data AWS::IAM::Policy AwsSolutions-IAM5[Resource::*]',
        `dev-data AWS::IAM::Policy AwsSolutions-IAM5[Resource::${autoscalingArn}]`,
      ].sort(),
    );
    // AND each reason says why, in a sentence
    for (const [id, reason] of reasons) {
      expect(`${id}: ${reason}`).toMatch(/^\S+: [A-Z].{60,}\.$/s);
    }
  });
});

describe('environments', () => {
  test('the env context prefixes the stack names', () => {
    const prod = buildExampleApp(newApp({ env: 'prod' }), {
      migrationsDir: FIXTURE_MIGRATIONS,
      lambdaBinaryDir: fixtureLambdaDir(),
    });
    expect([prod.network, prod.data, prod.app].map((s) => s.stackName)).toEqual(['prod-network', 'prod-data', 'prod-app']);
    expect(stacks.app.stackName).toBe('dev-app');
  });

  test('an env name that cannot prefix a stack name is refused', () => {
    expect(() => buildExampleApp(newApp({ env: 'Prod_1' }), { migrationsDir: FIXTURE_MIGRATIONS })).toThrow(
      /env `Prod_1` must be lowercase letters, digits and dashes.*-c env=prod/,
    );
  });
});
