"""Builds the example with cdk-nag's AwsSolutions checks on every stack:
<env>-network -> <env>-data -> <env>-app, as the TypeScript example's
`separate` layout (cdk/example/example-app.ts)."""
import os
import re

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from schemagate_cdk import DrainTarget

from .app_stack import AppStack
from .data_stack import DataStack
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

    network = NetworkStack(app, f"{env_name}-network", description=f"schemagate example ({env_name}): VPC")
    data = DataStack(
        app,
        f"{env_name}-data",
        description=f"schemagate example ({env_name}): MariaDB and its schema migrations",
        vpc=network.vpc,
        migrations_dir=migrations_dir,
        drain=drain,
    )
    data.add_stack_dependency(network, "the database and the Lambda live in its VPC")
    app_stack = AppStack(
        app,
        f"{env_name}-app",
        description=f"schemagate example ({env_name}): web and worker Auto Scaling groups",
        vpc=network.vpc,
        migrations=data.migrations,
        drain=drain,
    )
    app_stack.add_stack_dependency(data, "the app instances change only after the schema migrations succeeded")

    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return {"network": network, "data": data, "app": app_stack}
