/**
 * schemagate-cdk: the `SchemaMigrations` construct, `gate()` and their types
 * — the public API of the package (npm `schemagate-cdk`, PyPI
 * `schemagate-cdk`, module `schemagate_cdk`), compiled with jsii. Only what
 * is exported here is part of it; the helpers in the other modules are the
 * package's own.
 */
export {
  DrainTarget,
  EndpointsMode,
  GateOptions,
  MaintenancePage,
  OnRollback,
  SchemaMigrations,
  SchemaMigrationsProps,
} from './schema-migrations';
export { TlsMode } from './tls';
