"""MariaDB 10.11 on RDS with a generated secret, and the schema migrations
that run against it on every deploy (schemagate-cdk's SchemaMigrations)."""
from aws_cdk import Acknowledgment, Duration, NestedStack, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct
from schemagate_cdk import DrainTarget, MaintenancePage, SchemaMigrations


class DataStack(Stack):
    """The data tier in a stack of its own, deployed (and rolled back) on its own."""

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc, migrations_dir: str, drain: DrainTarget, listener_arn: str, **kwargs
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.database, self.migrations = add_data_tier(self, vpc, migrations_dir, drain, listener_arn)


class DataNestedStack(NestedStack):
    """The same data tier as a nested stack: with the app's nested stack in the same parent, a failure
    anywhere in the parent rolls the schema back too."""

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc, migrations_dir: str, drain: DrainTarget, listener_arn: str, **kwargs
    ):
        super().__init__(scope, construct_id, **kwargs)
        self.database, self.migrations = add_data_tier(self, vpc, migrations_dir, drain, listener_arn)


def add_data_tier(stack: Stack, vpc: ec2.IVpc, migrations_dir: str, drain: DrainTarget, listener_arn: str):
    """Adds the data tier's resources to `stack` itself, so their logical ids are the same in either kind of stack."""
    engine = rds.DatabaseInstanceEngine.maria_db(version=rds.MariaDbEngineVersion.VER_10_11)
    # TLS only; and the triggers of online changes (docs/online-changes.md): with automated backups RDS turns
    # the binary log on, and creating a trigger then needs this (the migrations user has no SUPER).
    parameter_group = rds.ParameterGroup(
        stack,
        "Parameters",
        engine=engine,
        description="TLS only; triggers for online schema changes",
        parameters={"require_secure_transport": "ON", "log_bin_trust_function_creators": "1"},
    )
    database = rds.DatabaseInstance(
        stack,
        "Database",
        engine=engine,
        parameter_group=parameter_group,
        instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        credentials=rds.Credentials.from_generated_secret("app_admin"),
        database_name="app",
        port=3406,
        storage_encrypted=True,
        multi_az=True,
        deletion_protection=True,
        backup_retention=Duration.days(7),
        cloudwatch_logs_exports=["error", "slowquery"],
    )
    # `10.11` is the major version: RDS picks its current minor. The linters only know full versions.
    cfn_instance = database.node.default_child
    Validations.of(cfn_instance).acknowledge(
        Acknowledgment(
            id="CloudFormation-Validate::E9006",
            reason="MariaDB 10.11 is given as the major version, which RDS accepts; pinning a minor would fight "
            "auto minor upgrades.",
        )
    )
    cfn_instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3691"]}})
    database.add_rotation_single_user(automatically_after=Duration.days(30))

    migrations = SchemaMigrations(
        stack,
        "Migrations",
        database=database,
        migrations_dir=migrations_dir,
        drain=drain,
        maintenance_page=MaintenancePage(listener_arn=listener_arn),
        lock_timeout=Duration.seconds(10),
    )
    return database, migrations
