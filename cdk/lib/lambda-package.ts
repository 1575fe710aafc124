/**
 * Where the Lambda's `bootstrap` comes from: the package's own `lambda/`
 * folder (filled by `make package`: `bootstrap`, `ca-bundle.pem`, `VERSION`),
 * or a folder the user points at, or — in a schemagate checkout only — what
 * `make build` left in `target/lambda/schemagate-lambda`.
 *
 * Pure file-system helpers, no constructs.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Context key that points at the folder holding the `bootstrap` built by cargo lambda. */
export const LAMBDA_DIR_CONTEXT_KEY = 'schemagateLambdaDir';

/** Environment variable that points at the folder holding the `bootstrap` built by cargo lambda. */
export const LAMBDA_DIR_ENV_VAR = 'SCHEMAGATE_LAMBDA_DIR';

/** The package's root (this file lives in `lib/`, compiled to `dist/`). */
export const PACKAGE_DIR = path.resolve(__dirname, '..');

/** The package's own Lambda folder: `bootstrap`, `ca-bundle.pem` and `VERSION`, put there by `make package`. */
export const PACKAGE_LAMBDA_DIR = path.join(PACKAGE_DIR, 'lambda');

/** The file beside `bootstrap` that names the schemagate version that built it (`make build` writes it). */
export const LAMBDA_VERSION_FILE = 'VERSION';

/** Root of the schemagate repository when the package is its `cdk/` folder. */
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..');

/** Where `make build` (`cargo lambda build --profile lambda --arm64 -p schemagate --bin schemagate-lambda --no-default-features`) puts the binary. */
export const CHECKOUT_LAMBDA_DIR = path.join(REPO_ROOT, 'target', 'lambda', 'schemagate-lambda');

/** The Lambda binary the construct bundles, and the schemagate version that built it (if recorded). */
export interface LambdaBinary {
  /** Absolute path of `bootstrap`. */
  readonly bootstrap: string;
  /** The content of `VERSION` beside it, e.g. `0.1.0`; `undefined` when there is none. */
  readonly version?: string;
}

/** Is this package the `cdk/` folder of a schemagate checkout (not an installed package)? */
export function inCheckout(): boolean {
  return fs.existsSync(path.join(REPO_ROOT, 'lambda', 'Cargo.toml')) && fs.existsSync(path.join(REPO_ROOT, 'Cargo.toml'));
}

/**
 * The binary to bundle: from `explicit` (the prop, the context key or the
 * environment variable, first given wins), else the package's own
 * `lambda/`, else, in a checkout, `target/lambda/schemagate-lambda`.
 * Throws a message that says what to do when there is none.
 */
export function resolveLambdaBinary(explicit: string | undefined): LambdaBinary {
  if (explicit !== undefined) {
    const dir = path.resolve(explicit);
    if (!hasBootstrap(dir)) {
      throw new Error(
        `schemagate: no Lambda binary at \`${path.join(dir, 'bootstrap')}\`. Run \`make build\` at the repository root ` +
          '(`cargo lambda build --profile lambda --arm64 -p schemagate --bin schemagate-lambda --no-default-features`), or point `lambdaBinaryDir`, ' +
          `the context key \`${LAMBDA_DIR_CONTEXT_KEY}\` (-c ${LAMBDA_DIR_CONTEXT_KEY}=DIR) or the environment ` +
          `variable ${LAMBDA_DIR_ENV_VAR} at the folder that holds \`bootstrap\`.`,
      );
    }
    return binaryIn(dir);
  }
  if (hasBootstrap(PACKAGE_LAMBDA_DIR)) {
    return binaryIn(PACKAGE_LAMBDA_DIR);
  }
  if (inCheckout()) {
    return resolveLambdaBinary(CHECKOUT_LAMBDA_DIR);
  }
  throw new Error(
    `schemagate: this schemagate-cdk package was built without the Lambda binary: \`${path.join(PACKAGE_LAMBDA_DIR, 'bootstrap')}\` ` +
      'is missing. Install a released package (`npm install schemagate-cdk`, `pip install schemagate-cdk`), build ' +
      'it with `make package` in the schemagate repository, or point `lambdaBinaryDir`, the context key ' +
      `\`${LAMBDA_DIR_CONTEXT_KEY}\` or the environment variable ${LAMBDA_DIR_ENV_VAR} at a folder holding a ` +
      '`bootstrap` built by `cargo lambda build --profile lambda --arm64 -p schemagate --bin schemagate-lambda --no-default-features`.',
  );
}

/** The CA bundle the package ships beside `bootstrap` (`make package` writes it), if any. */
export function packagedCaBundle(): string | undefined {
  const file = path.join(PACKAGE_LAMBDA_DIR, 'ca-bundle.pem');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}

function hasBootstrap(dir: string): boolean {
  const bootstrap = path.join(dir, 'bootstrap');
  return fs.existsSync(bootstrap) && fs.statSync(bootstrap).isFile();
}

function binaryIn(dir: string): LambdaBinary {
  const versionFile = path.join(dir, LAMBDA_VERSION_FILE);
  const version = fs.existsSync(versionFile) ? fs.readFileSync(versionFile, 'utf8').trim() : '';
  return { bootstrap: path.join(dir, 'bootstrap'), version: version === '' ? undefined : version };
}
