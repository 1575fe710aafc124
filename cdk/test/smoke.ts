import { Template } from 'aws-cdk-lib/assertions';
import { SchemaMigrations } from '../lib/schema-migrations';
import { databaseStack, fixtureLambdaDir, FIXTURE_MIGRATIONS } from '../test/helpers';
const { stack, db } = databaseStack();
new SchemaMigrations(stack, 'M', { database: db, migrationsDir: FIXTURE_MIGRATIONS, lambdaBinaryDir: fixtureLambdaDir(), drain: { tagKey: 'k', tagValue: 'v' } });
console.log(JSON.stringify(Template.fromStack(stack).toJSON(), null, 1));
