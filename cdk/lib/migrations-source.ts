/**
 * Reading the migrations folder at synth time: which files ship in the
 * Lambda package, the latest version, and the hash that forces an Update.
 *
 * Pure file-system helpers, no constructs: they are unit-tested on their own.
 * File names follow sqlx: `<version>_<description>.up.sql` + `.down.sql`
 * (reversible) or `<version>_<description>.sql` (irreversible).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** One migration version found in the folder. */
export interface MigrationVersion {
  /** The version as a canonical decimal integer string (no leading zeros). */
  readonly version: string;
  /** The description part of the file name. */
  readonly description: string;
  /** The files for this version (one `.sql`, or an `.up.sql` + `.down.sql` pair). */
  readonly files: string[];
}

/** What the folder holds. */
export interface MigrationsSource {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** The versions, sorted ascending. */
  readonly versions: MigrationVersion[];
  /** Every migration file name, sorted. These, and only these, ship in the asset. */
  readonly files: string[];
  /** The highest version (canonical decimal string). */
  readonly latestVersion: string;
  /** sha256 (hex) over the sorted file names and their contents. */
  readonly hash: string;
}

const FILE_PATTERN = /^(\d+)_(.+?)(\.up|\.down)?\.sql$/;

/**
 * Reads and checks a sqlx-style migrations folder.
 *
 * Files that do not end in `.sql` (a README, `.gitkeep`) are ignored, as sqlx
 * ignores them. A `.sql` file whose name does not follow the pattern, two
 * files for the same version, or half of an up/down pair is an error that
 * names the file.
 */
export function readMigrationsSource(dir: string): MigrationsSource {
  const absDir = path.resolve(dir);
  if (!fs.existsSync(absDir) || !fs.statSync(absDir).isDirectory()) {
    throw new Error(
      `schemagate: migrationsDir \`${absDir}\` is not a folder. Point \`migrationsDir\` at the folder that holds your ` +
        '`<version>_<description>.up.sql`/`.down.sql` files (create it with `sqlx migrate add -r <description>`).',
    );
  }

  const byVersion = new Map<string, { description: string; kinds: Map<string, string> }>();
  const files: string[] = [];
  for (const name of fs.readdirSync(absDir).sort()) {
    const full = path.join(absDir, name);
    if (!name.endsWith('.sql') || !fs.statSync(full).isFile()) {
      continue;
    }
    const m = FILE_PATTERN.exec(name);
    if (!m) {
      throw new Error(
        `schemagate: migration file \`${name}\` in \`${absDir}\` does not follow the sqlx naming ` +
          '`<version>_<description>.up.sql`, `.down.sql` or `<version>_<description>.sql`; rename it.',
      );
    }
    const version = BigInt(m[1]).toString();
    const description = m[2];
    const kind = m[3] ?? '';
    let entry = byVersion.get(version);
    if (!entry) {
      entry = { description, kinds: new Map() };
      byVersion.set(version, entry);
    }
    const clash = entry.kinds.get(kind) ?? (kind === '' ? first(entry.kinds) : entry.kinds.get(''));
    if (clash !== undefined || entry.description !== description) {
      const other = clash ?? first(entry.kinds);
      throw new Error(
        `schemagate: \`${name}\` and \`${other}\` in \`${absDir}\` both define migration version ${version}; ` +
          'give one of them a new version.',
      );
    }
    entry.kinds.set(kind, name);
    files.push(name);
  }

  const versions: MigrationVersion[] = [];
  for (const [version, entry] of byVersion) {
    const up = entry.kinds.get('.up');
    const down = entry.kinds.get('.down');
    if ((up === undefined) !== (down === undefined)) {
      const have = up ?? down;
      const missing = (have as string).replace(/\.(up|down)\.sql$/, up ? '.down.sql' : '.up.sql');
      throw new Error(
        `schemagate: \`${have}\` in \`${absDir}\` has no matching \`${missing}\`. Add it (an empty down script, or ` +
          'one with only comments, is a deliberate no-op), or name the file `<version>_<description>.sql` if the ' +
          'migration is irreversible.',
      );
    }
    versions.push({ version, description: entry.description, files: [...entry.kinds.values()].sort() });
  }
  versions.sort((a, b) => compareVersions(a.version, b.version));

  if (versions.length === 0) {
    throw new Error(
      `schemagate: no migrations found in \`${absDir}\`. Add one (e.g. \`sqlx migrate add -r create_users\`) ` +
        'or point `migrationsDir` at the folder that holds them.',
    );
  }

  return {
    dir: absDir,
    versions,
    files,
    latestVersion: versions[versions.length - 1].version,
    hash: hashFiles(absDir, files),
  };
}

/** Compares two canonical decimal version strings numerically. */
export function compareVersions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * sha256 over the sorted file names and contents. Each name and content is
 * length-prefixed so that moving bytes between a name and a file, or between
 * two files, changes the hash.
 */
export function hashFiles(dir: string, files: string[]): string {
  const h = crypto.createHash('sha256');
  for (const name of [...files].sort()) {
    const content = fs.readFileSync(path.join(dir, name));
    const nameBytes = Buffer.from(name, 'utf8');
    h.update(`${nameBytes.length}:`);
    h.update(nameBytes);
    h.update(`${content.length}:`);
    h.update(content);
  }
  return h.digest('hex');
}

/**
 * Builds the Lambda asset folder: `bootstrap` (mode 0755) and `migrations/`
 * with the migration files. The folder is named after a hash of its contents
 * under the OS temp dir, so repeated synths reuse it and parallel synths do
 * not step on each other (each writes a private folder, then renames it).
 */
export function stageLambdaAsset(bootstrapPath: string, source: MigrationsSource): string {
  const h = crypto.createHash('sha256');
  h.update(fs.readFileSync(bootstrapPath));
  h.update(source.hash);
  const target = path.join(os.tmpdir(), `schemagate-asset-${h.digest('hex').slice(0, 32)}`);
  if (fs.existsSync(path.join(target, 'bootstrap'))) {
    return target;
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'schemagate-staging-'));
  fs.copyFileSync(bootstrapPath, path.join(work, 'bootstrap'));
  fs.chmodSync(path.join(work, 'bootstrap'), 0o755);
  fs.mkdirSync(path.join(work, 'migrations'));
  for (const name of source.files) {
    fs.copyFileSync(path.join(source.dir, name), path.join(work, 'migrations', name));
    fs.chmodSync(path.join(work, 'migrations', name), 0o644);
  }
  try {
    fs.renameSync(work, target);
  } catch (e) {
    // Another synth staged the same content first: use theirs.
    fs.rmSync(work, { recursive: true, force: true });
    if (!fs.existsSync(path.join(target, 'bootstrap'))) {
      throw e;
    }
  }
  return target;
}

function first(m: Map<string, string>): string | undefined {
  for (const v of m.values()) {
    return v;
  }
  return undefined;
}
