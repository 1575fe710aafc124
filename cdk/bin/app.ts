#!/usr/bin/env node
/**
 * The example app: `npx cdk deploy --all -c env=prod` deploys
 * prod-network → prod-data → prod-app.
 *
 * Context: `env` (default `dev`), `schemagateLambdaDir` (folder of the
 * `bootstrap` built by `make build`), `schemagateMigrationsDir` (default
 * `../migrations`).
 */
import { App } from 'aws-cdk-lib';
import { buildExampleApp } from '../lib/example-app';

const app = new App();
buildExampleApp(app);
app.synth();
