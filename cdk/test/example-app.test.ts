/**
 * The example app in both layouts — Network → Data → App as three stacks
 * (the default), and Network → one parent with Data and App nested in it
 * (`layout=nested`) — each synthesized once for the file, and checked
 * through what CloudFormation gets: the cloud assembly's templates, nested
 * templates included, and its stack dependencies.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleApp, ExampleStacks } from '../example/example-app';
import { cleanup, FIXTURE_MIGRATIONS, fixtureLambdaDir, newApp } from './helpers';

type Template = {
  Resources: Record<string, any>;
  Parameters?: Record<string, any>;
  Outputs?: Record<string, any>;
};

let app: App;
let stacks: ExampleStacks;
let assembly: cxapi.CloudAssembly;
let network: Template;
let data: Template;
let appTemplate: Template;

/** `layout=nested`: the parent stack's template, and its nested stacks' templates by logical id. */
let nestedApp: App;
let nestedAssembly: cxapi.CloudAssembly;
let parent: Template;
let nested: Map<string, Template>;

beforeAll(() => {
  // GIVEN the example app for the default environment, on the fixture migrations
  app = newApp();
  stacks = buildExampleApp(app, { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir() });
  // WHEN it is synthesized (cdk-nag runs here as a validation plugin: a violation fails the synth)
  assembly = app.synth();
  network = assembly.getStackByName('dev-network').template;
  data = assembly.getStackByName('dev-data').template;
  appTemplate = assembly.getStackByName('dev-app').template;

  // GIVEN the same app with `-c layout=nested`, and the asset metadata the CDK CLI
  // asks for, which names each nested stack's template file in the assembly
  nestedApp = newApp({ layout: 'nested', [cxapi.ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true });
  buildExampleApp(nestedApp, { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir() });
  nestedAssembly = nestedApp.synth();
  parent = nestedAssembly.getStackByName('dev-data-app').template;
  nested = nestedTemplates(nestedAssembly, parent);
});
afterAll(cleanup);

/** The templates of a parent's `AWS::CloudFormation::Stack` resources, read from the assembly's files. */
function nestedTemplates(asm: cxapi.CloudAssembly, template: Template): Map<string, Template> {
  const found = new Map<string, Template>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::CloudFormation::Stack') {
      expect(r.Metadata).toMatchObject({ 'aws:asset:property': 'TemplateURL' });
      const file = path.join(asm.directory, r.Metadata['aws:asset:path']);
      found.set(id, JSON.parse(fs.readFileSync(file, 'utf8')));
    }
  }
  return found;
}

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
    // AND the AppStack imports from the DataStack only the migrations Lambda's ARN (the end-maintenance
    // resource's ServiceToken: the function is never replaced, so the export never changes); the rest are the
    // NetworkStack's VPC and load balancer ids
    const imports = JSON.stringify(appTemplate).match(/"Fn::ImportValue":"[^"]*"/g) ?? [];
    expect(imports.length).toBeGreaterThan(0);
    const fromData = imports.filter((i) => !/"Fn::ImportValue":"dev-network:/.test(i));
    expect([...new Set(fromData)]).toEqual([expect.stringMatching(/"Fn::ImportValue":"dev-data:ExportsOutputFnGetAttMigrationsFunction[0-9A-F]+Arn/)]);
    const [, end] = ofType(appTemplate, 'Custom::SchemaMaintenanceEnd')[0];
    expect(JSON.stringify(end.Properties.ServiceToken)).toBe(`{${fromData[0]}}`);
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

  test('the web and worker units run `schemagate check` before they start, and /health follows it', () => {
    // GIVEN each launch template's user data as the instance runs it (the version is an intrinsic)
    const userData = (prefix: string) => {
      const found = ofType(appTemplate, 'AWS::EC2::LaunchTemplate').filter(([id]) => id.startsWith(prefix));
      expect(found).toHaveLength(1);
      return userDataParts(found[0][1])
        .map((p) => (typeof p === 'string' ? p : '<version>'))
        .join('');
    };
    /** The text of the systemd unit written by `cat > /etc/systemd/system/<name> <<'UNIT'`. */
    const unit = (text: string, name: string) => {
      const start = text.indexOf(`cat > /etc/systemd/system/${name} <<'UNIT'\n`);
      expect(start).toBeGreaterThanOrEqual(0);
      const body = text.slice(start).split('\n');
      return body.slice(1, body.indexOf('UNIT')).join('\n');
    };
    const check =
      '/usr/local/bin/schemagate check --env-file /etc/schemagate/schema.env --ssl-mode required --connect-timeout 5 --timeout 10';
    const webText = userData('Web');
    const workerText = userData('Worker');

    // THEN the web unit checks the schema before anything else starts, with the version gate() wrote …
    const web = unit(webText, 'app-web.service').split('\n');
    expect(web).toContain(`ExecStartPre=${check}`);
    expect(web).toContain('EnvironmentFile=/etc/schemagate/database.env');
    expect(web.indexOf(`ExecStartPre=${check}`)).toBeLessThan(web.findIndex((l) => l.startsWith('ExecStart=')));
    expect(web.indexOf(`ExecStartPre=${check}`)).toBe(web.findIndex((l) => l.startsWith('ExecStartPre=')));
    expect(webText.indexOf("echo 'SCHEMAGATE_SCHEMA_VERSION=<version>' > /etc/schemagate/schema.env")).toBeLessThan(
      webText.indexOf('systemctl enable --now app-web.service'),
    );
    // … /health exists only while the check passes, so the load balancer drops an instance it fails on …
    const health = unit(webText, 'app-web-health.service');
    expect(health).toContain(
      `ExecStart=/bin/sh -c 'while true; do if ${check} > /srv/www/health.new 2>&1; then mv /srv/www/health.new /srv/www/health; else rm -f /srv/www/health /srv/www/health.new; fi; sleep 15; done'`,
    );
    expect(webText).toContain('systemctl enable --now app-web.service app-web-health.service');
    // … and the worker does not start on a schema its release cannot run on either
    const worker = unit(workerText, 'app-worker.service').split('\n');
    expect(worker.indexOf(`ExecStartPre=${check}`)).toBeGreaterThanOrEqual(0);
    expect(worker.indexOf(`ExecStartPre=${check}`)).toBeLessThan(worker.findIndex((l) => l.startsWith('ExecStart=')));
  });

  test('both groups carry the drain tag the migrations are given, and the web group is behind the ALB', () => {
    const [, cr] = ofType(data, 'Custom::SchemaMigrations')[0];
    expect(cr.Properties).toMatchObject({ DrainTagKey: 'schemagate:drain', DrainTagValue: 'dev-app' });
    const groups = ofType(appTemplate, 'AWS::AutoScaling::AutoScalingGroup');
    for (const [, g] of groups) {
      expect(g.Properties.Tags).toContainEqual({ Key: 'schemagate:drain', Value: 'dev-app', PropagateAtLaunch: true });
    }
    expect(groups.filter(([, g]) => g.Properties.TargetGroupARNs)).toHaveLength(1);
    // the front door is the NetworkStack's, deployed before the migrations that put the maintenance page on it
    expect(ofType(network, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[0][1].Properties.Scheme).toBe('internet-facing');
    expect(ofType(appTemplate, 'AWS::ElasticLoadBalancingV2::LoadBalancer')).toHaveLength(0);
  });

  test("the migrations put their maintenance page on the network stack's listener; the app stack takes it down after both groups", () => {
    // GIVEN the listener of the NetworkStack
    const [listenerId] = ofType(network, 'AWS::ElasticLoadBalancingV2::Listener')[0];
    // THEN the DataStack's custom resource carries its ARN (an import: the listener outlives every release)
    const [, cr] = ofType(data, 'Custom::SchemaMigrations')[0];
    expect(cr.Properties.MaintenanceListenerArn).toEqual({ 'Fn::ImportValue': expect.stringContaining(listenerId) });
    // AND the AppStack has one end-maintenance resource, after both groups, on the same listener and the schema version
    const ends = ofType(appTemplate, 'Custom::SchemaMaintenanceEnd');
    expect(ends).toHaveLength(1);
    const [, end] = ends[0];
    const groupIds = ofType(appTemplate, 'AWS::AutoScaling::AutoScalingGroup').map(([id]) => id);
    expect(end.DependsOn).toEqual(expect.arrayContaining(groupIds));
    expect(end.Properties.Action).toBe('end-maintenance');
    expect(end.Properties.MaintenanceListenerArn).toEqual({ 'Fn::ImportValue': expect.stringContaining(listenerId) });
    expect(end.Properties.SchemaVersion).toEqual({ Ref: expect.stringContaining('schemaversion') });
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

  test("the database's parameter group lets the migrations create triggers on RDS's binary log (online changes), TLS only", () => {
    // RDS with automated backups has the binary log on: CREATE TRIGGER then needs
    // log_bin_trust_function_creators=1 (or SUPER, which the RDS master user lacks).
    const [, db] = ofType(data, 'AWS::RDS::DBInstance')[0];
    expect(db.Properties.BackupRetentionPeriod).toBeGreaterThan(0);
    const groups = ofType(data, 'AWS::RDS::DBParameterGroup');
    expect(groups).toHaveLength(1);
    const [groupId, group] = groups[0];
    expect(db.Properties.DBParameterGroupName).toEqual({ Ref: groupId });
    expect(group.Properties.Family).toBe('mariadb10.11');
    expect(group.Properties.Parameters).toEqual({ require_secure_transport: 'ON', log_bin_trust_function_creators: '1' });
  });
});

describe('layout=nested: the schema and the app roll back as one', () => {
  /** The one nested stack (logical id in the parent, template) that holds resources of this type. */
  function nestedHolding(type: string): [string, Template] {
    const holders = [...nested.entries()].filter(([, t]) => ofType(t, type).length > 0);
    expect(holders).toHaveLength(1);
    return holders[0];
  }

  test('two stacks: the network, and one parent; the parent deploys after the network', () => {
    const names = nestedAssembly.stacks.map((s) => s.stackName).sort();
    expect(names).toEqual(['dev-data-app', 'dev-network']);
    const deps = nestedAssembly
      .getStackByName('dev-data-app')
      .dependencies.filter((d) => d instanceof cxapi.CloudFormationStackArtifact)
      .map((d) => d.id);
    expect(deps).toEqual(['dev-network']);
    // AND the parent is all nested stacks: nothing of the data or the app is a top-level stack of its own
    expect(Object.values(parent.Resources).map((r) => r.Type).filter((t) => t !== 'AWS::CDK::Metadata')).toEqual([
      'AWS::CloudFormation::Stack',
      'AWS::CloudFormation::Stack',
    ]);
  });

  test('the custom resource and both Auto Scaling groups are nested stacks of the same parent: one rollback unit', () => {
    // GIVEN every template the assembly holds, nested ones included
    const topLevel = nestedAssembly.stacks.map((s) => s.template as Template);
    const all = [...topLevel, ...nested.values()];

    // THEN the one Custom::SchemaMigrations is in a nested stack of dev-data-app ...
    expect(all.flatMap((t) => ofType(t, 'Custom::SchemaMigrations'))).toHaveLength(1);
    const [dataId, dataTemplate] = nestedHolding('Custom::SchemaMigrations');
    // ... and both groups are in the other nested stack of the same parent
    expect(all.flatMap((t) => ofType(t, 'AWS::AutoScaling::AutoScalingGroup'))).toHaveLength(2);
    const [appId, appNested] = nestedHolding('AWS::AutoScaling::AutoScalingGroup');
    expect(ofType(appNested, 'AWS::AutoScaling::AutoScalingGroup')).toHaveLength(2);
    expect(appId).not.toBe(dataId);
    expect(parent.Resources[dataId].Type).toBe('AWS::CloudFormation::Stack');
    expect(parent.Resources[appId].Type).toBe('AWS::CloudFormation::Stack');
    // AND the database it migrates is in the same nested stack as the custom resource
    expect(ofType(dataTemplate, 'AWS::RDS::DBInstance')).toHaveLength(1);
  });

  test('the App nested stack depends on the Data one, so it updates after the migrations and rolls back before them', () => {
    const [dataId] = nestedHolding('Custom::SchemaMigrations');
    const [appId] = nestedHolding('AWS::AutoScaling::AutoScalingGroup');
    expect(parent.Resources[appId].DependsOn).toEqual([dataId]);
    expect(parent.Resources[dataId].DependsOn).toBeUndefined();
  });

  test("both launch templates read the custom resource's SchemaVersion: Data output → parent GetAtt → App parameter", () => {
    // GIVEN the custom resource in the Data nested stack
    const [dataId, dataTemplate] = nestedHolding('Custom::SchemaMigrations');
    const [crId] = ofType(dataTemplate, 'Custom::SchemaMigrations')[0];
    const [appId, appNested] = nestedHolding('AWS::AutoScaling::AutoScalingGroup');

    // THEN the Data nested stack outputs its SchemaVersion attribute ...
    const outputs = Object.entries(dataTemplate.Outputs ?? {}).filter(
      ([, o]) => JSON.stringify(o.Value) === JSON.stringify({ 'Fn::GetAtt': [crId, 'SchemaVersion'] }),
    );
    expect(outputs).toHaveLength(1);
    const [outputName] = outputs[0];
    // ... the parent passes that output to the App nested stack as a parameter ...
    const passed = Object.entries(parent.Resources[appId].Properties.Parameters ?? {}).filter(
      ([, v]) => JSON.stringify(v) === JSON.stringify({ 'Fn::GetAtt': [dataId, `Outputs.${outputName}`] }),
    );
    expect(passed).toHaveLength(1);
    const [parameterId] = passed[0];
    // ... a plain parameter (not SSM-typed: no value outlives the deployment that set it) ...
    expect(appNested.Parameters![parameterId]).toEqual({ Type: 'String' });

    // ... that each launch template writes into its user data
    const launchTemplates = ofType(appNested, 'AWS::EC2::LaunchTemplate');
    expect(launchTemplates).toHaveLength(2);
    for (const [, lt] of launchTemplates) {
      const refs = userDataParts(lt).filter((p) => typeof p === 'object' && 'Ref' in p && !p.Ref.startsWith('AWS::'));
      expect(new Set(refs.map((r) => r.Ref))).toEqual(new Set([parameterId]));
      const text = userDataParts(lt)
        .map((p) => (typeof p === 'string' ? p : p.Ref === parameterId ? '<VERSION>' : '<X>'))
        .join('');
      expect(text).toContain("echo 'SCHEMAGATE_SCHEMA_VERSION=<VERSION>' > /etc/schemagate/schema.env");
    }
    // AND both groups launch from those templates, replace on change, and wait for signals
    const launchTemplateIds = launchTemplates.map(([id]) => id).sort();
    const groups = ofType(appNested, 'AWS::AutoScaling::AutoScalingGroup');
    expect(groups.map(([, g]) => g.Properties.LaunchTemplate.LaunchTemplateId.Ref).sort()).toEqual(launchTemplateIds);
    for (const [, g] of groups) {
      expect(g.UpdatePolicy.AutoScalingReplacingUpdate).toEqual({ WillReplace: true });
      expect(g.CreationPolicy.ResourceSignal.Count).toBe(Number(g.Properties.MinSize));
      expect(g.Properties.Tags).toContainEqual({ Key: 'schemagate:drain', Value: 'dev-app', PropagateAtLaunch: true });
    }
  });

  test('no SSM parameter and no export carry the version: nothing outside the parent holds it', () => {
    for (const t of [parent, ...nested.values(), nestedAssembly.getStackByName('dev-network').template as Template]) {
      expect(ofType(t, 'AWS::SSM::Parameter')).toEqual([]);
      expect(JSON.stringify(t.Outputs ?? {})).not.toMatch(/"Export"[^}]*SchemaVersion/);
    }
  });

  test('instances signal their own nested stack, and may only signal that one', () => {
    const [, appNested] = nestedHolding('AWS::AutoScaling::AutoScalingGroup');
    for (const [asgId] of ofType(appNested, 'AWS::AutoScaling::AutoScalingGroup')) {
      const lt = Object.values(appNested.Resources).find(
        (r) => r.Type === 'AWS::EC2::LaunchTemplate' && JSON.stringify(r).includes(`--resource ${asgId} `),
      );
      expect(userDataParts(lt)).toContainEqual({ Ref: 'AWS::StackName' });
    }
    const signalStatements = ofType(appNested, 'AWS::IAM::Policy').flatMap(([, p]) =>
      p.Properties.PolicyDocument.Statement.filter((st: any) => st.Action === 'cloudformation:SignalResource'),
    );
    expect(signalStatements).toHaveLength(2);
    for (const st of signalStatements) {
      expect(st.Resource).toEqual({ Ref: 'AWS::StackId' });
    }
  });

  test("the README's --resources-to-skip ids are the custom resource's logical ids, in every environment", () => {
    // GIVEN the README's recovery commands
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    // WHEN the ids are read from the templates (dev) and from a prod app in both layouts
    const [crId] = ofType(data, 'Custom::SchemaMigrations')[0];
    const [dataId, dataTemplate] = nestedHolding('Custom::SchemaMigrations');
    const [nestedCrId] = ofType(dataTemplate, 'Custom::SchemaMigrations')[0];
    const options = { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir() };
    const prodSeparate = buildExampleApp(newApp({ env: 'prod' }), options);
    const prodNested = buildExampleApp(newApp({ env: 'prod', layout: 'nested' }), options);
    const idOf = (stack: any, c: any) => stack.resolve(c.logicalId);

    // THEN the README names them
    expect(readme).toContain(`--resources-to-skip ${crId}\` (separate)`);
    expect(readme).toContain(`--resources-to-skip ${dataId}.${nestedCrId}\``);
    // AND they do not depend on the environment
    expect(idOf(prodSeparate.data, prodSeparate.data.migrations.resource.node.defaultChild)).toBe(crId);
    expect(idOf(prodNested.parent, prodNested.data.nestedStackResource)).toBe(dataId);
    expect(idOf(prodNested.data, prodNested.data.migrations.resource.node.defaultChild)).toBe(nestedCrId);
  });

  test('the default layout stays three stacks; an unknown layout is refused', () => {
    expect(stacks.layout).toBe('separate');
    expect(stacks.parent).toBeUndefined();
    expect(() =>
      buildExampleApp(newApp({ layout: 'single' }), { migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir() }),
    ).toThrow(/layout `single` must be `separate` .* or `nested` .*-c layout=nested/);
  });
});

describe('cdk-nag', () => {
  test.each(['separate', 'nested'])('AwsSolutions finds nothing on any stack, nested ones included (layout %s)', (layout) => {
    const scope = layout === 'nested' ? nestedApp : app;
    const report = new AwsSolutionsChecks(scope).validateScope(scope);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  /** `<stack> <type> <rule>` for every cdk_nag acknowledgment written into these templates; and the reasons. */
  function acknowledgments(templates: [string, Template][]): { acknowledged: string[]; reasons: Map<string, string> } {
    const acknowledged: string[] = [];
    const reasons = new Map<string, string>();
    for (const [stackName, template] of templates) {
      for (const r of Object.values(template.Resources)) {
        for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
          if (rule.id.startsWith('AwsSolutions-')) {
            acknowledged.push(`${stackName} ${r.Type} ${rule.id}`);
            reasons.set(rule.id, rule.reason);
          }
        }
      }
    }
    return { acknowledged: acknowledged.sort(), reasons };
  }

  /** The acknowledgments the example may have, by the stack that holds the data (the app stack needs none). */
  function expectedAcknowledgments(dataStack: string): string[] {
    const autoscalingArn =
      'arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*';
    const listenerRulesArn = 'arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:listener-rule/app/*';
    return [
      // the internet-facing ALB's security group (the NetworkStack's): HTTP from anywhere is its job
      `dev-network AWS::EC2::SecurityGroup AwsSolutions-EC23`,
      // access logs need the region at synth; the example is environment-agnostic
      `dev-network AWS::ElasticLoadBalancingV2::LoadBalancer AwsSolutions-ELB2`,
      // the Secrets Manager, Auto Scaling and Elastic Load Balancing endpoints admit the VPC CIDR (a reference nag cannot read)
      `${dataStack} AWS::EC2::SecurityGroup AwsSolutions-EC23`,
      `${dataStack} AWS::EC2::SecurityGroup AwsSolutions-EC23`,
      `${dataStack} AWS::EC2::SecurityGroup AwsSolutions-EC23`,
      // the migrations Lambda: ENI, Auto Scaling and ELB Describe* on *, drain limited by tag condition,
      // the maintenance rule (not known before it is made) limited by CreateAction and tag conditions
      `${dataStack} AWS::IAM::Policy AwsSolutions-IAM5[Resource::*]`,
      `${dataStack} AWS::IAM::Policy AwsSolutions-IAM5[Resource::${autoscalingArn}]`,
      `${dataStack} AWS::IAM::Policy AwsSolutions-IAM5[Resource::${listenerRulesArn}]`,
    ].sort();
  }

  test('every acknowledged AwsSolutions rule is one of the known few, each with a reason', () => {
    // GIVEN every cdk_nag acknowledgment written into the templates
    const { acknowledged, reasons } = acknowledgments([
      ['dev-network', network],
      ['dev-data', data],
      ['dev-app', appTemplate],
    ]);

    // THEN they are exactly these (a new one must be added here, with its reason reviewed)
    expect(acknowledged).toEqual(expectedAcknowledgments('dev-data'));
    // AND each reason says why, in a sentence
    for (const [id, reason] of reasons) {
      expect(`${id}: ${reason}`).toMatch(/^\S+: [A-Z].{60,}\.$/s);
    }
  });

  test('layout=nested has the same acknowledgments, in the nested templates, and none for the parent', () => {
    // GIVEN the nested stacks' templates, named by what they hold
    const named = [...nested.entries()].map(([id, t]): [string, Template] => [
      id.startsWith('DataNestedStack') ? 'dev-data-app/Data' : id.startsWith('AppNestedStack') ? 'dev-data-app/App' : id,
      t,
    ]);
    const { acknowledged } = acknowledgments([
      ['dev-network', nestedAssembly.getStackByName('dev-network').template],
      ['dev-data-app', parent],
      ...named,
    ]);
    expect(acknowledged).toEqual(expectedAcknowledgments('dev-data-app/Data'));
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
