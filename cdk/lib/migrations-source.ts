/**
 * Reading the migrations folder at synth time: which files ship in the
 * Lambda package, the latest version, and the hash that forces an Update.
 *
 * Pure file-system helpers, no constructs: they are unit-tested on their own.
 * File names follow sqlx: `<version>_<description>.up.sql` + `.down.sql`
 * (reversible) or `<version>_<description>.sql` (irreversible), read by the
 * same rules as the Lambda's `lambda/src/migrate/source.rs`.
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

/** The folder's own ignore list: one file name or pattern per line (`*`, `?`, `#` comments). */
export const IGNORE_FILE = '.schemagateignore';

const MAX_VERSION = BigInt('9223372036854775807');

/** A file name read as a migration's. */
export interface ParsedName {
  /** The version as a canonical decimal integer string. */
  readonly version: string;
  readonly description: string;
  /** `''` (irreversible), `'.up'` or `'.down'`. */
  readonly kind: '' | '.up' | '.down';
}

/**
 * Reads a file name as a migration's, by the Lambda's rules
 * (`lambda/src/migrate/source.rs` `parse_name`): `<version>_<description>`
 * and a lowercase `.sql`, `.up.sql` or `.down.sql`, the version a positive
 * 64-bit integer. Returns the parsed name, or why it is not a migration's
 * with the rename that fixes it.
 */
export function parseMigrationName(name: string): ParsedName | { problem: string } {
  const trimmed = name.trim();
  if (trimmed !== name) {
    return { problem: `the name starts or ends with a space; rename it to \`${trimmed}\`` };
  }
  const lower = name.toLowerCase();
  const suffix = ['.up.sql', '.down.sql', '.sql'].find((s) => lower.endsWith(s));
  if (suffix === undefined) {
    return {
      problem:
        'only `<version>_<description>.sql`, `.up.sql` and `.down.sql` files are migrations; rename or remove it',
    };
  }
  const stem = name.slice(0, name.length - suffix.length);
  if (name.slice(stem.length) !== suffix) {
    return { problem: `the suffix must be lowercase; rename it to \`${stem}${suffix}\`` };
  }
  const stemLower = stem.toLowerCase();
  for (const tail of ['.up', '.down', '.sql']) {
    if (stemLower.endsWith(tail)) {
      const base = stem.slice(0, stem.length - tail.length);
      return suffix === '.sql' && tail !== '.sql'
        ? { problem: `the suffix must be lowercase; rename it to \`${base}${tail}.sql\`` }
        : { problem: `the suffix is doubled; rename it to \`${base}${suffix}\`` };
    }
  }
  const sep = stem.indexOf('_');
  if (sep < 0) {
    const digits = /^\d*/.exec(stem)![0].length;
    if (digits === 0) {
      return { problem: NO_VERSION };
    }
    if (digits === stem.length) {
      return { problem: noDescription(stem) };
    }
    return {
      problem: `the version is not followed by \`_\`; rename it to \`${stem.slice(0, digits)}_${stem.slice(digits)}${suffix}\``,
    };
  }
  const version = stem.slice(0, sep);
  const description = stem.slice(sep + 1);
  const unsigned = version.startsWith('-') ? version.slice(1) : version;
  if (!/^\d+$/.test(unsigned)) {
    return { problem: NO_VERSION };
  }
  const v = BigInt(unsigned);
  if (version.startsWith('-') || v === BigInt(0)) {
    return {
      problem: `version \`${version}\` is not positive (versions start at 1; 0 means no migration applied); renumber it`,
    };
  }
  if (v > MAX_VERSION) {
    return { problem: tooLarge(version) };
  }
  if (description === '') {
    return { problem: noDescription(version) };
  }
  return { version: v.toString(), description, kind: suffix === '.sql' ? '' : (suffix.slice(0, -4) as '.up' | '.down') };
}

const NO_VERSION = 'it has no version; name it `<version>_<description>.sql` (or `.up.sql` + `.down.sql`)';

function noDescription(version: string): string {
  return `it has no description; name it \`${version}_<description>.sql\` (or \`.up.sql\` + \`.down.sql\`)`;
}

function tooLarge(version: string): string {
  return `version \`${version}\` is larger than ${MAX_VERSION}; renumber it`;
}

/**
 * `*` matches any run of characters, `?` one character, anything else itself
 * (case-sensitive) — the Lambda's `wildcard_match`, character for character.
 */
export function wildcardMatch(pattern: string, name: string): boolean {
  const p = [...pattern];
  const n = [...name];
  let pi = 0;
  let ni = 0;
  let star: [number, number] | undefined;
  while (ni < n.length) {
    if (pi < p.length && p[pi] === '*') {
      star = [pi, ni];
      pi += 1;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === n[ni])) {
      pi += 1;
      ni += 1;
    } else if (star !== undefined) {
      pi = star[0] + 1;
      ni = star[1] + 1;
      star = [star[0], star[1] + 1];
    } else {
      return false;
    }
  }
  return p.slice(pi).every((c) => c === '*');
}

/**
 * Reads and checks a sqlx-style migrations folder, by the Lambda's rules, so
 * the construct and the Lambda agree on what a migration is.
 *
 * Every regular file is a migration, or ignored — subfolders, names starting
 * with `.`, `README*` and `*.md` (any case), names matched by a line of the
 * folder's `.schemagateignore` (a valid migration name is never ignored) — or
 * an error naming it and the fix. Two files for the same version, or half of
 * an up/down pair, is an error that names the file.
 */
export function readMigrationsSource(dir: string): MigrationsSource {
  const absDir = path.resolve(dir);
  if (!fs.existsSync(absDir) || !fs.statSync(absDir).isDirectory()) {
    throw new Error(
      `schemagate: migrationsDir \`${absDir}\` is not a folder. Point \`migrationsDir\` at the folder that holds your ` +
        '`<version>_<description>.up.sql`/`.down.sql` files (create it with `sqlx migrate add -r <description>`).',
    );
  }

  const ignoreFile = path.join(absDir, IGNORE_FILE);
  const patterns = fs.existsSync(ignoreFile)
    ? fs
        .readFileSync(ignoreFile, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
    : [];
  const byVersion = new Map<string, { description: string; kinds: Map<string, string> }>();
  const files: string[] = [];
  const misnamed: string[] = [];
  for (const name of fs.readdirSync(absDir).sort()) {
    if (name.startsWith('.')) {
      continue;
    }
    const full = path.join(absDir, name);
    const parsed = parseMigrationName(name);
    const lower = name.toLowerCase();
    const ignored =
      'problem' in parsed &&
      (lower.startsWith('readme') || lower.endsWith('.md') || patterns.some((p) => wildcardMatch(p, name)));
    let isFile: boolean;
    try {
      isFile = fs.statSync(full).isFile();
    } catch (e) {
      if (ignored) {
        continue;
      }
      throw new Error(`schemagate: cannot read \`${full}\`: ${(e as Error).message}`);
    }
    if (!isFile || ignored) {
      continue;
    }
    if ('problem' in parsed) {
      misnamed.push(`\`${full}\` is not a migration file name: ${parsed.problem}`);
      continue;
    }
    const { version, description, kind } = parsed;
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
  if (misnamed.length > 0) {
    throw new Error(
      `schemagate: ${misnamed.join('; ')}; a file that is not a migration can be listed in \`${ignoreFile}\``,
    );
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

/** The CA bundle's name in the Lambda asset (beside `bootstrap`). */
export const CA_BUNDLE_FILE = 'ca-bundle.pem';

/**
 * Builds the Lambda asset folder: `bootstrap` (mode 0755), `migrations/`
 * with the migration files, and the CA bundle (PEM text) as
 * `ca-bundle.pem`. The folder is named after a hash of its contents under
 * the OS temp dir, so repeated synths reuse it and parallel synths do not
 * step on each other (each writes a private folder, then renames it).
 */
export function stageLambdaAsset(bootstrapPath: string, source: MigrationsSource, caBundle: string): string {
  const h = crypto.createHash('sha256');
  h.update(fs.readFileSync(bootstrapPath));
  h.update(source.hash);
  h.update(`${Buffer.byteLength(caBundle)}:`);
  h.update(caBundle);
  const target = path.join(os.tmpdir(), `schemagate-asset-${h.digest('hex').slice(0, 32)}`);
  if (fs.existsSync(path.join(target, 'bootstrap'))) {
    return target;
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'schemagate-staging-'));
  fs.copyFileSync(bootstrapPath, path.join(work, 'bootstrap'));
  fs.chmodSync(path.join(work, 'bootstrap'), 0o755);
  fs.writeFileSync(path.join(work, CA_BUNDLE_FILE), caBundle);
  fs.chmodSync(path.join(work, CA_BUNDLE_FILE), 0o644);
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
