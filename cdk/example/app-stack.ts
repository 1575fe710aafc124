import {
  Duration,
  NestedStack,
  NestedStackProps,
  Stack,
  StackProps,
  Tags,
} from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DrainTarget, SchemaMigrations } from '../lib';

/**
 * Where the instances find `DATABASE_URL` for `schemagate check`: a read-only
 * user (SELECT on `_sqlx_migrations` and `_schemagate_history`), written by
 * the app's release with the `schemagate` binary (see cdk/README.md, "The app
 * side").
 */
export const DATABASE_ENV = '/etc/schemagate/database.env';

/**
 * The check an instance of this release runs before it starts and every 15 s
 * after: exit 0 while the schema is one this release can run on
 * (`SCHEMAGATE_SCHEMA_VERSION` from the file `gate()` writes).
 */
export const SCHEMA_CHECK =
  '/usr/local/bin/schemagate check --env-file /etc/schemagate/schema.env --ssl-mode required --connect-timeout 5 --timeout 10';

/** What the app tier is made of, in a stack of its own or nested in a parent. */
export interface AppTierProps {
  /** The VPC from the NetworkStack. */
  readonly vpc: ec2.IVpc;
  /** The migrations of the data tier; both groups are gated on their `schemaVersion`. */
  readonly migrations: SchemaMigrations;
  /** The tag both groups carry, so that the migrations can drain them before a breaking change. */
  readonly drain: DrainTarget;
  /** The load balancer in front of the web group (the NetworkStack's). */
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Its listener: the web group is its default target, the migrations' maintenance page goes on it. */
  readonly listener: elbv2.ApplicationListener;
}

/** The app tier: the web and worker groups, the load balancer they are behind, the scaling notifications. */
export interface AppTier {
  readonly web: autoscaling.AutoScalingGroup;
  readonly worker: autoscaling.AutoScalingGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Launch, terminate and failure notifications of both groups. */
  readonly scalingEvents: sns.Topic;
}

/** Properties of {@link AppStack}. */
export interface AppStackProps extends StackProps, AppTierProps {}

/**
 * The application: a web Auto Scaling group behind an internet-facing ALB,
 * and a worker Auto Scaling group. Both run Amazon Linux 2023 on arm64, are
 * gated on the schema version, and carry the drain tag. A stack of its own:
 * its rollback does not roll back the DataStack.
 */
export class AppStack extends Stack implements AppTier {
  public readonly web: autoscaling.AutoScalingGroup;
  public readonly worker: autoscaling.AutoScalingGroup;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly scalingEvents: sns.Topic;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const tier = addAppTier(this, props);
    this.web = tier.web;
    this.worker = tier.worker;
    this.loadBalancer = tier.loadBalancer;
    this.scalingEvents = tier.scalingEvents;
  }
}

/** Properties of {@link AppNestedStack}. */
export interface AppNestedStackProps extends NestedStackProps, AppTierProps {}

/**
 * The same app tier as {@link AppStack}, as a nested stack: with the data
 * tier's nested stack in the same parent, its failure rolls the schema back.
 */
export class AppNestedStack extends NestedStack implements AppTier {
  public readonly web: autoscaling.AutoScalingGroup;
  public readonly worker: autoscaling.AutoScalingGroup;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly scalingEvents: sns.Topic;

  constructor(scope: Construct, id: string, props: AppNestedStackProps) {
    super(scope, id, props);
    const tier = addAppTier(this, props);
    this.web = tier.web;
    this.worker = tier.worker;
    this.loadBalancer = tier.loadBalancer;
    this.scalingEvents = tier.scalingEvents;
  }
}

/**
 * Adds the app tier's resources to `stack` itself (no construct in between,
 * so their logical ids are the same in either kind of stack).
 */
function addAppTier(stack: Stack, props: AppTierProps): AppTier {
  // Scaling notifications, encrypted with a key the Auto Scaling service-linked role may use.
  const key = new kms.Key(stack, 'ScalingEventsKey', {
    enableKeyRotation: true,
    description: 'schemagate example: Auto Scaling notifications',
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      principals: [
        new iam.ArnPrincipal(
          stack.formatArn({
            service: 'iam',
            region: '',
            resource: 'role',
            resourceName: 'aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
          }),
        ),
      ],
      resources: ['*'],
    }),
  );
  const scalingEvents = new sns.Topic(stack, 'ScalingEvents', { masterKey: key, enforceSSL: true });

  const { loadBalancer, listener } = props;

  const web = appGroup(stack, 'Web', props, scalingEvents, 2, 4, [
    "cat > /etc/systemd/system/app-web.service <<'UNIT'",
    '[Unit]',
    'Description=example web app',
    // keep trying: a schema that is behind this release may catch up
    'StartLimitIntervalSec=0',
    '[Service]',
    'EnvironmentFile=/etc/schemagate/schema.env',
    `EnvironmentFile=${DATABASE_ENV}`,
    // never serve on a schema this release cannot run on
    `ExecStartPre=${SCHEMA_CHECK}`,
    'ExecStartPre=/usr/bin/mkdir -p /srv/www',
    'ExecStartPre=/bin/sh -c "echo ok schema $SCHEMAGATE_SCHEMA_VERSION > /srv/www/health"',
    'ExecStart=/usr/bin/python3 -m http.server 80 --directory /srv/www',
    'Restart=always',
    'RestartSec=15',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    // the health endpoint follows the check: /health is there only while it passes, so the
    // load balancer takes the instance out of the target group once a migration breaks it
    "cat > /etc/systemd/system/app-web-health.service <<'UNIT'",
    '[Unit]',
    'Description=example web app: /health while this release can run on the schema',
    'After=app-web.service',
    '[Service]',
    `EnvironmentFile=${DATABASE_ENV}`,
    `ExecStart=/bin/sh -c 'while true; do if ${SCHEMA_CHECK} > /srv/www/health.new 2>&1; ` +
      "then mv /srv/www/health.new /srv/www/health; else rm -f /srv/www/health /srv/www/health.new; fi; sleep 15; done'",
    'Restart=always',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now app-web.service app-web-health.service',
    'for i in $(seq 1 30); do curl -fs http://127.0.0.1/health && break; sleep 2; done',
    // the last command's status is what cfn-signal reports
    'curl -fsS -o /dev/null http://127.0.0.1/health',
  ]);
  web.connections.allowFrom(loadBalancer, ec2.Port.tcp(80), 'HTTP from the load balancer');
  listener.addTargets('Web', {
    port: 80,
    targets: [web],
    healthCheck: { path: '/health', healthyHttpCodes: '200' },
    deregistrationDelay: Duration.seconds(30),
  });

  const worker = appGroup(stack, 'Worker', props, scalingEvents, 1, 2, [
    "cat > /etc/systemd/system/app-worker.service <<'UNIT'",
    '[Unit]',
    'Description=example background worker',
    'StartLimitIntervalSec=0',
    '[Service]',
    'EnvironmentFile=/etc/schemagate/schema.env',
    `EnvironmentFile=${DATABASE_ENV}`,
    `ExecStartPre=${SCHEMA_CHECK}`,
    'ExecStart=/bin/sh -c "while true; do echo worker on schema $SCHEMAGATE_SCHEMA_VERSION; sleep 60; done"',
    'Restart=always',
    'RestartSec=15',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now app-worker.service',
    'systemctl is-active app-worker.service',
  ]);
  return { web, worker, loadBalancer, scalingEvents };
}

/**
 * One Auto Scaling group of the app: launch template (AL2023 arm64, IMDSv2,
 * encrypted root volume), gated on the schema, tagged as a drain target.
 * The gate comes before the commands that start the service, so its env
 * file exists when the service starts.
 */
function appGroup(
  stack: Stack,
  id: string,
  props: AppTierProps,
  scalingEvents: sns.Topic,
  minCapacity: number,
  maxCapacity: number,
  startCommands: string[],
): autoscaling.AutoScalingGroup {
  const role = new iam.Role(stack, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: `example ${id.toLowerCase()} instances`,
  });
  const securityGroup = new ec2.SecurityGroup(stack, `${id}SecurityGroup`, {
    vpc: props.vpc,
    description: `example ${id.toLowerCase()} instances`,
    allowAllOutbound: true,
  });
  const userData = ec2.UserData.forLinux();
  // cfn-signal (sent by the gate when the user data ends) ships with Amazon Linux; make sure.
  userData.addCommands('[ -x /opt/aws/bin/cfn-signal ] || dnf install -y aws-cfn-bootstrap');
  const launchTemplate = new ec2.LaunchTemplate(stack, `${id}LaunchTemplate`, {
    machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL),
    role,
    securityGroup,
    userData,
    requireImdsv2: true,
    blockDevices: [
      {
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
      },
    ],
  });
  const group = new autoscaling.AutoScalingGroup(stack, id, {
    vpc: props.vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    launchTemplate,
    minCapacity,
    maxCapacity,
    notifications: [{ topic: scalingEvents }],
  });
  Tags.of(group).add(props.drain.tagKey, props.drain.tagValue, { applyToLaunchedInstances: true });

  props.migrations.gate(group);
  userData.addCommands(...startCommands);
  return group;
}
