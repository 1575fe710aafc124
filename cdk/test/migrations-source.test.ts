import * as fs from 'fs';
import * as path from 'path';
import { parseMigrationName, readMigrationsSource, stageLambdaAsset, wildcardMatch } from '../lib/migrations-source';
import { cleanup, copyOfFixtureMigrations, FIXTURE_MIGRATIONS, fixtureLambdaDir, tempDir } from './helpers';

afterAll(cleanup);

describe('readMigrationsSource', () => {
  test('finds the sqlx-named versions, ignores other files, and picks the highest version numerically', () => {
    // GIVEN the fixture folder: 1 and 2 as up/down pairs, 10 irreversible, and a README
    // WHEN it is read
    const source = readMigrationsSource(FIXTURE_MIGRATIONS);

    // THEN
    expect(source.versions.map((v) => v.version)).toEqual(['1', '2', '10']);
    expect(source.latestVersion).toBe('10');
    expect(source.files).toEqual([
      '10_create_orders.sql',
      '1_create_users.down.sql',
      '1_create_users.up.sql',
      '2_add_user_email.down.sql',
      '2_add_user_email.up.sql',
    ]);
    expect(source.versions[0]).toEqual({
      version: '1',
      description: 'create_users',
      files: ['1_create_users.down.sql', '1_create_users.up.sql'],
    });
  });

  test('reads zero-padded and timestamp versions as numbers', () => {
    // GIVEN
    const dir = tempDir('padded');
    fs.writeFileSync(path.join(dir, '0002_b.sql'), 'SELECT 2;');
    fs.writeFileSync(path.join(dir, '20240101120000_c.sql'), 'SELECT 3;');
    fs.writeFileSync(path.join(dir, '0010_a.sql'), 'SELECT 1;');

    // WHEN
    const source = readMigrationsSource(dir);

    // THEN
    expect(source.versions.map((v) => v.version)).toEqual(['2', '10', '20240101120000']);
    expect(source.latestVersion).toBe('20240101120000');
  });

  test('the hash is stable, and changes with a file content, a file name or a new file, not with a README', () => {
    // GIVEN
    const dir = copyOfFixtureMigrations();
    const original = readMigrationsSource(dir).hash;
    expect(readMigrationsSource(dir).hash).toBe(original);

    // WHEN a README changes THEN the hash does not
    fs.appendFileSync(path.join(dir, 'README.md'), 'more notes\n');
    expect(readMigrationsSource(dir).hash).toBe(original);

    // WHEN one byte of a migration changes THEN it does
    fs.appendFileSync(path.join(dir, '2_add_user_email.up.sql'), ' ');
    const edited = readMigrationsSource(dir).hash;
    expect(edited).not.toBe(original);

    // WHEN a file is renamed THEN it does
    fs.renameSync(path.join(dir, '10_create_orders.sql'), path.join(dir, '10_create_all_orders.sql'));
    const renamed = readMigrationsSource(dir).hash;
    expect(renamed).not.toBe(edited);

    // WHEN a file is added THEN it does
    fs.writeFileSync(path.join(dir, '11_more.sql'), 'SELECT 1;');
    expect(readMigrationsSource(dir).hash).not.toBe(renamed);
  });

  test.each([
    [{ '1_a.sql': 'x', 'create_users.sql': 'x' }, /create_users\.sql` is not a migration file name: it has no version/],
    [{ '1_a.sql': 'x', '01_b.sql': 'x' }, /`1_a\.sql` and `01_b\.sql` .* both define migration version 1; give one of them a new version/],
    [{ '1_a.sql': 'x', '1_a.up.sql': 'x', '1_a.down.sql': '' }, /both define migration version 1/],
    [{ '3_a.up.sql': 'x' }, /`3_a\.up\.sql` .* has no matching `3_a\.down\.sql`.*deliberate no-op.*irreversible/],
    [{ '3_a.down.sql': 'x' }, /`3_a\.down\.sql` .* has no matching `3_a\.up\.sql`/],
    [{ 'README.md': 'x' }, /no migrations found in .*sqlx migrate add/],
  ])('refuses a folder holding %j', (files, message) => {
    // GIVEN
    const dir = tempDir('bad');
    for (const [name, content] of Object.entries(files)) {
      fs.writeFileSync(path.join(dir, name), content);
    }

    // WHEN / THEN
    expect(() => readMigrationsSource(dir)).toThrow(message);
  });

  // The same names and rules as the Lambda's `lambda/src/migrate/source.rs`
  // tests, so the construct and the Lambda agree on what a migration is.
  test.each([
    ['abc.sql', 'it has no version'],
    ['abc_x.sql', 'it has no version'],
    ['+1_x.sql', 'it has no version'],
    ['1.sql', 'it has no description; name it `1_<description>.sql`'],
    ['0001_.sql', 'it has no description; name it `0001_<description>.sql`'],
    ['0001add.sql', 'the version is not followed by `_`; rename it to `0001_add.sql`'],
    ['0001_x.SQL', 'the suffix must be lowercase; rename it to `0001_x.sql`'],
    ['0001_x.UP.sql', 'the suffix must be lowercase; rename it to `0001_x.up.sql`'],
    ['0001_x.Down.sql', 'the suffix must be lowercase; rename it to `0001_x.down.sql`'],
    ['0001_x.up.SQL', 'the suffix must be lowercase; rename it to `0001_x.up.sql`'],
    ['0001_x.sql.sql', 'the suffix is doubled; rename it to `0001_x.sql`'],
    ['0001_x.up.up.sql', 'the suffix is doubled; rename it to `0001_x.up.sql`'],
    ['0001_x.sql.bak', 'rename or remove it'],
    ['0001_x.sql~', 'rename or remove it'],
    ['0001_x.sql ', 'starts or ends with a space; rename it to `0001_x.sql`'],
    [' 0001_x.sql', 'starts or ends with a space; rename it to `0001_x.sql`'],
    ['-1_x.sql', 'version `-1` is not positive'],
    ['-0_x.sql', 'version `-0` is not positive'],
    ['0_x.sql', 'version `0` is not positive'],
    ['0000_x.sql', 'version `0000` is not positive'],
    ['99999999999999999999_x.sql', 'version `99999999999999999999` is larger than 9223372036854775807'],
  ])('refuses the migration name %j: %s', (name, problem) => {
    // WHEN the name is read THEN it is refused with the fix
    const parsed = parseMigrationName(name);
    expect(parsed).toHaveProperty('problem');
    expect((parsed as { problem: string }).problem).toContain(problem);

    // AND a folder holding it is refused, naming the file and the ignore list
    const dir = tempDir('misnamed');
    fs.writeFileSync(path.join(dir, '0009_ok.sql'), 'SELECT 1;');
    fs.writeFileSync(path.join(dir, name), 'SELECT 1;');
    expect(() => readMigrationsSource(dir)).toThrow(`${name}\` is not a migration file name: `);
    expect(() => readMigrationsSource(dir)).toThrow(problem);
    expect(() => readMigrationsSource(dir)).toThrow(/can be listed in `.*\.schemagateignore`/);
  });

  test('reads valid names as the Lambda does', () => {
    expect(parseMigrationName('0001_create_users.up.sql')).toEqual({ version: '1', description: 'create_users', kind: '.up' });
    expect(parseMigrationName('20240101120000_add.v2.sql')).toEqual({
      version: '20240101120000',
      description: 'add.v2',
      kind: '',
    });
    expect(parseMigrationName('7_x.down.sql')).toEqual({ version: '7', description: 'x', kind: '.down' });
  });

  test('ignores READMEs, dotfiles, subfolders and names listed in .schemagateignore, never a migration', () => {
    // GIVEN a folder with one migration and files that are not migrations
    const dir = tempDir('ignored');
    fs.writeFileSync(path.join(dir, '0001_a.sql'), 'SELECT 1;');
    for (const name of ['README', 'readme.txt', 'CHANGES.MD', '.gitkeep', '.0002_b.sql.swp', 'notes.txt', '0001_a.sql.bak']) {
      fs.writeFileSync(path.join(dir, name), '');
    }
    fs.symlinkSync('nowhere', path.join(dir, '.#0001_a.sql'));
    fs.mkdirSync(path.join(dir, 'drafts'));
    fs.writeFileSync(path.join(dir, 'drafts', '0003_c.SQL'), '');
    // WHEN the unlisted ones are not in .schemagateignore THEN they are refused
    expect(() => readMigrationsSource(dir)).toThrow(/notes\.txt` is not a migration file name.*0001_a\.sql\.bak|0001_a\.sql\.bak.*notes\.txt/);

    // WHEN they are listed (a pattern that would match a migration does not hide it)
    fs.writeFileSync(path.join(dir, '.schemagateignore'), '# not migrations\nnotes.txt\n  *.bak  \n*.sql\n');
    const source = readMigrationsSource(dir);

    // THEN only the migration ships
    expect(source.files).toEqual(['0001_a.sql']);
  });

  test('wildcards match whole names, as the Lambda matches them', () => {
    expect(wildcardMatch('*.bak', '0001_x.sql.bak')).toBe(true);
    expect(wildcardMatch('*.bak', '0001_x.bak.sql')).toBe(false);
    expect(wildcardMatch('seed_????.sql', 'seed_data.sql')).toBe(true);
    expect(wildcardMatch('seed_????.sql', 'seed_dat.sql')).toBe(false);
    expect(wildcardMatch('*', 'anything')).toBe(true);
    expect(wildcardMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(wildcardMatch('a*b*c', 'axxbyy')).toBe(false);
    expect(wildcardMatch('Notes.txt', 'notes.txt')).toBe(false);
    expect(wildcardMatch('**x', 'x')).toBe(true);
    expect(wildcardMatch('é?', 'éa')).toBe(true);
  });

  test('refuses a folder that does not exist', () => {
    expect(() => readMigrationsSource('/nonexistent/migrations')).toThrow(
      /migrationsDir `\/nonexistent\/migrations` is not a folder.*sqlx migrate add/,
    );
  });
});

describe('stageLambdaAsset', () => {
  const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  test('holds an executable bootstrap, exactly the migration files under migrations/, and the CA bundle', () => {
    // GIVEN
    const lambdaDir = fixtureLambdaDir();
    const source = readMigrationsSource(FIXTURE_MIGRATIONS);

    // WHEN
    const staged = stageLambdaAsset(path.join(lambdaDir, 'bootstrap'), source, CA);

    // THEN
    expect(fs.readdirSync(staged).sort()).toEqual(['bootstrap', 'ca-bundle.pem', 'migrations']);
    expect(fs.statSync(path.join(staged, 'bootstrap')).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(path.join(staged, 'migrations')).sort()).toEqual([...source.files].sort());
    expect(fs.readFileSync(path.join(staged, 'migrations', '10_create_orders.sql'), 'utf8')).toBe(
      fs.readFileSync(path.join(FIXTURE_MIGRATIONS, '10_create_orders.sql'), 'utf8'),
    );
    expect(fs.readFileSync(path.join(staged, 'ca-bundle.pem'), 'utf8')).toBe(CA);
    expect(fs.statSync(path.join(staged, 'ca-bundle.pem')).mode & 0o777).toBe(0o644);
    // AND the same content stages to the same folder (repeated synths reuse it)
    expect(stageLambdaAsset(path.join(lambdaDir, 'bootstrap'), source, CA)).toBe(staged);
  });

  test('another CA bundle is another asset', () => {
    // GIVEN
    const bootstrap = path.join(fixtureLambdaDir(), 'bootstrap');
    const source = readMigrationsSource(FIXTURE_MIGRATIONS);

    // WHEN the same bootstrap and migrations are staged with two bundles
    const one = stageLambdaAsset(bootstrap, source, CA);
    const other = stageLambdaAsset(bootstrap, source, CA.replace('MIIB', 'MIIC'));

    // THEN the package changes, so a new bundle reaches the function
    expect(other).not.toBe(one);
    expect(fs.readFileSync(path.join(other, 'ca-bundle.pem'), 'utf8')).toContain('MIIC');
  });
});
