"""The application: a web Auto Scaling group behind an internet-facing ALB,
and a worker Auto Scaling group, both gated on the schema version
(`migrations.gate(group)`) and tagged as drain targets."""
from aws_cdk import Duration, NestedStack, Stack, Tags
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct
from schemagate_cdk import DrainTarget, SchemaMigrations

# Where the instances find DATABASE_URL for `schemagate check` (see cdk/README.md, "The app side").
DATABASE_ENV = "/etc/schemagate/database.env"

# The check an instance runs before it starts and every 15 s after.
SCHEMA_CHECK = (
    "/usr/local/bin/schemagate check --env-file /etc/schemagate/schema.env --ssl-mode required "
    "--connect-timeout 5 --timeout 10"
)

WEB_COMMANDS = [
    "cat > /etc/systemd/system/app-web.service <<'UNIT'",
    "[Unit]",
    "Description=example web app",
    "StartLimitIntervalSec=0",
    "[Service]",
    "EnvironmentFile=/etc/schemagate/schema.env",
    f"EnvironmentFile={DATABASE_ENV}",
    f"ExecStartPre={SCHEMA_CHECK}",
    "ExecStartPre=/usr/bin/mkdir -p /srv/www",
    'ExecStartPre=/bin/sh -c "echo ok schema $SCHEMAGATE_SCHEMA_VERSION > /srv/www/health"',
    "ExecStart=/usr/bin/python3 -m http.server 80 --directory /srv/www",
    "Restart=always",
    "RestartSec=15",
    "[Install]",
    "WantedBy=multi-user.target",
    "UNIT",
    "cat > /etc/systemd/system/app-web-health.service <<'UNIT'",
    "[Unit]",
    "Description=example web app: /health while this release can run on the schema",
    "After=app-web.service",
    "[Service]",
    f"EnvironmentFile={DATABASE_ENV}",
    f"ExecStart=/bin/sh -c 'while true; do if {SCHEMA_CHECK} > /srv/www/health.new 2>&1; "
    "then mv /srv/www/health.new /srv/www/health; else rm -f /srv/www/health /srv/www/health.new; fi; sleep 15; done'",
    "Restart=always",
    "[Install]",
    "WantedBy=multi-user.target",
    "UNIT",
    "systemctl daemon-reload",
    "systemctl enable --now app-web.service app-web-health.service",
    "for i in $(seq 1 30); do curl -fs http://127.0.0.1/health && break; sleep 2; done",
    "curl -fsS -o /dev/null http://127.0.0.1/health",
]

WORKER_COMMANDS = [
    "cat > /etc/systemd/system/app-worker.service <<'UNIT'",
    "[Unit]",
    "Description=example background worker",
    "StartLimitIntervalSec=0",
    "[Service]",
    "EnvironmentFile=/etc/schemagate/schema.env",
    f"EnvironmentFile={DATABASE_ENV}",
    f"ExecStartPre={SCHEMA_CHECK}",
    'ExecStart=/bin/sh -c "while true; do echo worker on schema $SCHEMAGATE_SCHEMA_VERSION; sleep 60; done"',
    "Restart=always",
    "RestartSec=15",
    "[Install]",
    "WantedBy=multi-user.target",
    "UNIT",
    "systemctl daemon-reload",
    "systemctl enable --now app-worker.service",
    "systemctl is-active app-worker.service",
]


class AppStack(Stack):
    """The app tier in a stack of its own: its rollback does not roll back the data stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc, migrations: SchemaMigrations, drain, load_balancer, listener, **kwargs
    ):
        super().__init__(scope, construct_id, **kwargs)
        tier = AppTier(self, vpc, migrations, drain, load_balancer, listener)
        self.web, self.worker, self.load_balancer = tier.web, tier.worker, tier.load_balancer


class AppNestedStack(NestedStack):
    """The same app tier as a nested stack: with the data tier's nested stack in the same parent, its
    failure rolls the schema back."""

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc, migrations: SchemaMigrations, drain, load_balancer, listener, **kwargs
    ):
        super().__init__(scope, construct_id, **kwargs)
        tier = AppTier(self, vpc, migrations, drain, load_balancer, listener)
        self.web, self.worker, self.load_balancer = tier.web, tier.worker, tier.load_balancer


class AppTier:
    """Adds the app tier's resources to `stack` itself (no construct in between, so their logical ids are
    the same in either kind of stack)."""

    def __init__(
        self,
        stack: Stack,
        vpc: ec2.IVpc,
        migrations: SchemaMigrations,
        drain: DrainTarget,
        load_balancer: elbv2.ApplicationLoadBalancer,
        listener: elbv2.ApplicationListener,
    ) -> None:
        self.stack = stack
        self.vpc = vpc
        self.migrations = migrations
        self.drain = drain
        self.scaling_events = self._scaling_events()
        self.load_balancer = load_balancer

        self.web = self._group("Web", 2, 4, WEB_COMMANDS)
        self.web.connections.allow_from(self.load_balancer, ec2.Port.tcp(80), "HTTP from the load balancer")
        listener.add_targets(
            "Web",
            port=80,
            targets=[self.web],
            health_check=elbv2.HealthCheck(path="/health", healthy_http_codes="200"),
            deregistration_delay=Duration.seconds(30),
        )
        self.worker = self._group("Worker", 1, 2, WORKER_COMMANDS)

    def _scaling_events(self) -> sns.Topic:
        """Scaling notifications, encrypted with a key the Auto Scaling service-linked role may use."""
        key = kms.Key(
            self.stack, "ScalingEventsKey", enable_key_rotation=True, description="schemagate example: Auto Scaling notifications"
        )
        service_role = self.stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name="aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                principals=[iam.ArnPrincipal(service_role)],
                resources=["*"],
            )
        )
        return sns.Topic(self.stack, "ScalingEvents", master_key=key, enforce_ssl=True)

    def _group(self, construct_id: str, min_capacity: int, max_capacity: int, start_commands: list) -> autoscaling.AutoScalingGroup:
        """One Auto Scaling group: launch template (AL2023 arm64, IMDSv2, encrypted root volume), gated on the
        schema before the commands that start the service, tagged as a drain target."""
        name = construct_id.lower()
        role = iam.Role(
            self.stack,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"example {name} instances",
        )
        security_group = ec2.SecurityGroup(
            self.stack,
            f"{construct_id}SecurityGroup",
            vpc=self.vpc,
            description=f"example {name} instances",
            allow_all_outbound=True,
        )
        user_data = ec2.UserData.for_linux()
        user_data.add_commands("[ -x /opt/aws/bin/cfn-signal ] || dnf install -y aws-cfn-bootstrap")
        launch_template = ec2.LaunchTemplate(
            self.stack,
            f"{construct_id}LaunchTemplate",
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=ec2.AmazonLinuxCpuType.ARM_64),
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL),
            role=role,
            security_group=security_group,
            user_data=user_data,
            require_imdsv2=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(20, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
                )
            ],
        )
        group = autoscaling.AutoScalingGroup(
            self.stack,
            construct_id,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            notifications=[autoscaling.NotificationConfiguration(topic=self.scaling_events)],
        )
        Tags.of(group).add(self.drain.tag_key, self.drain.tag_value, apply_to_launched_instances=True)

        self.migrations.gate(group)
        user_data.add_commands(*start_commands)
        return group
