#!/usr/bin/env python3
"""The example app in Python: `cdk deploy --all -c env=prod` deploys
prod-network -> prod-data -> prod-app (the TypeScript example's stacks, from
the schemagate-cdk wheel); with `-c layout=nested`, prod-network ->
prod-data-app (data and app nested, rolled back as one). Context: `env`
(default `dev`), `layout`, `schemagateMigrationsDir` (default `../../migrations`)."""
import aws_cdk as cdk

from schemagate_example.example_app import build_example_app

app = cdk.App()
build_example_app(app)
app.synth()
