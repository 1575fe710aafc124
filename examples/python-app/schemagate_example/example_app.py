"""Builds the example with cdk-nag's AwsSolutions checks on every stack, as
the TypeScript example (cdk/example/example-app.ts): <env>-network ->
<env>-data -> <env>-app (`separate`, the default), or <env>-network -> one
parent <env>-data-app with Data and App nested in it (`-c layout=nested`)."""
import os
import re

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from schemagate_cdk import DrainTarget

from .app_stack import AppNestedStack, AppStack
from .data_stack import DataNestedStack, DataStack
from .network_stack import NetworkStack

# The example's migrations: the repository's `migrations/` folder.
DEFAULT_MIGRATIONS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "migrations"))


def build_example_app(app: cdk.App) -> dict:
    env_name = app.node.try_get_context("env") or "dev"
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", env_name):
        raise ValueError(
            f"schemagate example: env `{env_name}` must be lowercase letters, digits and dashes, starting with a "
            "letter, at most 20 characters (it prefixes the stack names), e.g. -c env=prod."
        )
    migrations_dir = os.path.abspath(app.node.try_get_context("schemagateMigrationsDir") or DEFAULT_MIGRATIONS_DIR)
    drain = DrainTarget(tag_key="schemagate:drain", tag_value=f"{env_name}-app")

    layout = app.node.try_get_context("layout") or "separate"
    if layout not in ("separate", "nested"):
        raise ValueError(
            f"schemagate example: layout `{layout}` must be `separate` (network, data and app stacks, the default) "
            "or `nested` (data and app as nested stacks of one parent, rolled back together), e.g. -c layout=nested."
        )
    network = NetworkStack(app, f"{env_name}-network", description=f"schemagate example ({env_name}): VPC")
    data_description = f"schemagate example ({env_name}): MariaDB and its schema migrations"
    app_description = f"schemagate example ({env_name}): web and worker Auto Scaling groups"
    if layout == "separate":
        data = DataStack(
            app, f"{env_name}-data", description=data_description, vpc=network.vpc, migrations_dir=migrations_dir, drain=drain,
            listener_arn=network.listener.listener_arn,
        )
        data.add_stack_dependency(network, "the database and the Lambda live in its VPC")
        app_stack = AppStack(
            app, f"{env_name}-app", description=app_description, vpc=network.vpc, migrations=data.migrations, drain=drain,
            load_balancer=network.load_balancer, listener=network.listener,
        )
        app_stack.add_stack_dependency(data, "the app instances change only after the schema migrations succeeded")
        stacks = {"network": network, "data": data, "app": app_stack}
    else:
        # One parent: CloudFormation deploys both nested stacks in one stack operation, so a failure in
        # either rolls back both, schema included. gate() makes App depend on Data.
        parent = cdk.Stack(
            app,
            f"{env_name}-data-app",
            description=f"schemagate example ({env_name}): MariaDB, its schema migrations and the app, rolled back as one",
        )
        parent.add_stack_dependency(network, "the database, the Lambda and the app live in its VPC")
        data = DataNestedStack(
            parent, "Data", description=data_description, vpc=network.vpc, migrations_dir=migrations_dir, drain=drain,
            listener_arn=network.listener.listener_arn,
        )
        app_stack = AppNestedStack(
            parent, "App", description=app_description, vpc=network.vpc, migrations=data.migrations, drain=drain,
            load_balancer=network.load_balancer, listener=network.listener,
        )
        stacks = {"network": network, "data": data, "app": app_stack, "parent": parent}

    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return stacks
