#!/usr/bin/env node
/**
 * The example app: `npx cdk deploy --all -c env=prod` deploys
 * prod-network → prod-data → prod-app; with `-c layout=nested`,
 * prod-network → prod-data-app (data and app nested, rolled back as one).
 *
 * Context: `env` (default `dev`), `layout` (`separate` or `nested`, default
 * `separate`), `schemagateLambdaDir` (folder of the `bootstrap` built by
 * `make build`), `schemagateMigrationsDir` (default `../migrations`).
 */
import { App } from 'aws-cdk-lib';
import { buildExampleApp } from './example-app';

const app = new App();
buildExampleApp(app);
app.synth();
