import * as fs from 'fs';
import * as path from 'path';
import { readMigrationsSource, stageLambdaAsset } from '../lib/migrations-source';
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
    [{ '1_a.sql': 'x', 'create_users.sql': 'x' }, /`create_users\.sql` .* does not follow the sqlx naming/],
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

  test('refuses a folder that does not exist', () => {
    expect(() => readMigrationsSource('/nonexistent/migrations')).toThrow(
      /migrationsDir `\/nonexistent\/migrations` is not a folder.*sqlx migrate add/,
    );
  });
});

describe('stageLambdaAsset', () => {
  test('holds an executable bootstrap and exactly the migration files under migrations/', () => {
    // GIVEN
    const lambdaDir = fixtureLambdaDir();
    const source = readMigrationsSource(FIXTURE_MIGRATIONS);

    // WHEN
    const staged = stageLambdaAsset(path.join(lambdaDir, 'bootstrap'), source);

    // THEN
    expect(fs.readdirSync(staged).sort()).toEqual(['bootstrap', 'migrations']);
    expect(fs.statSync(path.join(staged, 'bootstrap')).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(path.join(staged, 'migrations')).sort()).toEqual([...source.files].sort());
    expect(fs.readFileSync(path.join(staged, 'migrations', '10_create_orders.sql'), 'utf8')).toBe(
      fs.readFileSync(path.join(FIXTURE_MIGRATIONS, '10_create_orders.sql'), 'utf8'),
    );
    // AND the same content stages to the same folder (repeated synths reuse it)
    expect(stageLambdaAsset(path.join(lambdaDir, 'bootstrap'), source)).toBe(staged);
  });
});
