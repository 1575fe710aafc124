"""The packaged construct, from Python: the wheel `scripts/package-cdk.sh`
made with a STAND-IN bootstrap (a shell script, not the arm64 build: that
takes 13 minutes; `make package` is the real thing), installed into a fresh
virtualenv, runs the Python example, whose templates must match the
TypeScript example's for the schemagate parts.

Run by `make test-package` (scripts/test-package.sh), which sets:
  SCHEMAGATE_PACKAGE_OUT  the packaging output (stage/, dist/js/*.tgz, dist/python/*.whl)
  SCHEMAGATE_STANDIN_DIR  the folder with the stand-in bootstrap that was packaged
"""
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CDK_DIR = ROOT / "cdk"
EXAMPLE_DIR = ROOT / "examples" / "python-app"
CDK_CLI = CDK_DIR / "node_modules" / ".bin" / "cdk"
OUT = Path(os.environ["SCHEMAGATE_PACKAGE_OUT"])
STANDIN = Path(os.environ["SCHEMAGATE_STANDIN_DIR"])

# The same wrong combination, in JavaScript against a package folder, and in Python below.
WRONG_PROPS_JS = r"""
const [pkg, migrationsDir] = process.argv.slice(1);
const { App, Stack } = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const rds = require('aws-cdk-lib/aws-rds');
const { SchemaMigrations } = require(pkg);
const stack = new Stack(new App(), 'Data');
const vpc = new ec2.Vpc(stack, 'Vpc');
const db = new rds.DatabaseInstance(stack, 'Db', {
  engine: rds.DatabaseInstanceEngine.mariaDb({ version: rds.MariaDbEngineVersion.VER_10_11 }),
  vpc,
  credentials: rds.Credentials.fromGeneratedSecret('admin'),
});
try {
  new SchemaMigrations(stack, 'Migrations', { database: db, secret: db.secret, migrationsDir });
  console.log('no error');
} catch (e) {
  process.stdout.write(e.message);
}
"""

MIGRATIONS = ROOT / "migrations"


def run_js(script_args, cwd=None):
    env = dict(os.environ, NODE_PATH=str(CDK_DIR / "node_modules"))
    done = subprocess.run(
        ["node", "-e", WRONG_PROPS_JS, *script_args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise AssertionError(f"node failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def synth(cwd, out, *extra):
    env = dict(os.environ, CDK_DISABLE_VERSION_CHECK="true", JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    # The Python app runs with this (fresh) virtualenv's python3.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    args = [str(CDK_CLI), "synth", "--quiet", "--no-notices", "-o", str(out), *extra]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def template(out, stack):
    return json.loads((Path(out) / f"{stack}.template.json").read_text())


def of_type(tpl, resource_type):
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == resource_type}


def only(tpl, resource_type):
    found = of_type(tpl, resource_type)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} {resource_type} resources, expected one: {sorted(found)}")
    return next(iter(found.items()))


def without_nag(resource):
    """The resource without cdk-nag's suppression metadata (the same rules, but not what is compared)."""
    return {k: v for k, v in resource.items() if k != "Metadata"}


class StandInPackagedConstruct(unittest.TestCase):
    """The Python example on the wheel with a stand-in bootstrap, against the TypeScript example."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="schemagate-test-package-")
        cls.py_out = Path(cls.tmp.name) / "python.out"
        cls.ts_out = Path(cls.tmp.name) / "typescript.out"
        # GIVEN the TypeScript example bundling the same stand-in (from its folder), and the Python example
        # bundling the package's own
        py = synth(EXAMPLE_DIR, cls.py_out)
        ts = synth(CDK_DIR, cls.ts_out, "-c", f"schemagateLambdaDir={STANDIN}")
        for name, proc in (("python", py), ("typescript", ts)):
            log, _ = proc.communicate(timeout=900)
            if proc.returncode != 0:
                # tearDownClass does not run after a failed setUpClass: stop the other synth, drop the folder
                for other in (py, ts):
                    if other.poll() is None:
                        other.kill()
                        other.wait()
                cls.tmp.cleanup()
                raise AssertionError(f"`cdk synth` of the {name} example failed:\n{log[-4000:]}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def both(self, stack):
        return template(self.ts_out, stack), template(self.py_out, stack)

    def test_custom_resource_properties_match_the_typescript_example(self):
        ts, py = self.both("dev-data")
        ts_id, ts_res = only(ts, "Custom::SchemaMigrations")
        py_id, py_res = only(py, "Custom::SchemaMigrations")
        self.assertEqual(py_id, ts_id)
        self.assertEqual(py_res["Properties"], ts_res["Properties"])
        self.assertEqual(py_res.get("DependsOn"), ts_res.get("DependsOn"))
        self.assertIn("MigrationsHash", py_res["Properties"])

    def test_the_lambda_its_role_and_policies_match_the_typescript_example(self):
        ts, py = self.both("dev-data")
        for resource_type in ("AWS::Lambda::Function", "AWS::IAM::Role", "AWS::IAM::Policy"):
            with self.subTest(resource_type):
                ts_all = {k: without_nag(v) for k, v in of_type(ts, resource_type).items()}
                py_all = {k: without_nag(v) for k, v in of_type(py, resource_type).items()}
                self.assertTrue(py_all)
                self.assertEqual(py_all, ts_all)

    def test_the_ssm_parameter_matches_the_typescript_example(self):
        ts, py = self.both("dev-data")
        self.assertEqual(of_type(py, "AWS::SSM::Parameter"), of_type(ts, "AWS::SSM::Parameter"))
        self.assertEqual(len(of_type(py, "AWS::SSM::Parameter")), 1)
        ts_app, py_app = self.both("dev-app")
        ssm = {k: v for k, v in ts_app["Parameters"].items() if "SSM" in v["Type"]}
        self.assertTrue(ssm)
        self.assertEqual({k: py_app["Parameters"].get(k) for k in ssm}, ssm)

    def test_the_launch_templates_gated_on_it_match_the_typescript_example(self):
        ts, py = self.both("dev-app")
        ts_lt = of_type(ts, "AWS::EC2::LaunchTemplate")
        self.assertEqual(len(ts_lt), 2)
        self.assertEqual(of_type(py, "AWS::EC2::LaunchTemplate"), ts_lt)
        self.assertIn("schemagate schema version", json.dumps(ts_lt))
        ts_asg = {k: without_nag(v) for k, v in of_type(ts, "AWS::AutoScaling::AutoScalingGroup").items()}
        py_asg = {k: without_nag(v) for k, v in of_type(py, "AWS::AutoScaling::AutoScalingGroup").items()}
        self.assertEqual(py_asg, ts_asg)
        for asg in py_asg.values():
            self.assertIn("AutoScalingReplacingUpdate", asg["UpdatePolicy"])

    def test_the_packaged_construct_bundles_the_binary_of_its_own_package(self):
        # THEN the Lambda asset of the Python synth holds the packaged stand-in, not a repository build
        _, function = only(template(self.py_out, "dev-data"), "AWS::Lambda::Function")
        asset = self.py_out / function["Metadata"]["aws:asset:path"]
        packaged = (OUT / "stage" / "lambda" / "bootstrap").read_bytes()
        self.assertEqual((asset / "bootstrap").read_bytes(), packaged)
        self.assertIn(b"stand-in", packaged)
        repo_build = ROOT / "target" / "lambda" / "schemagate-lambda" / "bootstrap"
        if repo_build.exists():
            self.assertNotEqual(repo_build.read_bytes(), packaged)
        self.assertEqual(sorted(p.name for p in asset.iterdir()), ["bootstrap", "ca-bundle.pem", "migrations"])
        # AND the description names the version recorded in the package
        version = (OUT / "stage" / "lambda" / "VERSION").read_text().strip()
        self.assertTrue(function["Properties"]["Description"].startswith(f"schemagate {version}: applies"))

    def test_a_package_built_without_the_binary_stops_the_synth_saying_so(self):
        # GIVEN the npm package as made, without its lambda/bootstrap
        (tgz,) = (OUT / "dist" / "js").glob("schemagate-cdk@*.jsii.tgz") or (OUT / "dist" / "js").glob("*.tgz")
        with tempfile.TemporaryDirectory(prefix="schemagate-no-binary-") as tmp:
            with tarfile.open(tgz) as t:
                t.extractall(tmp, filter="data")
            pkg = Path(tmp) / "package"
            (pkg / "lambda" / "bootstrap").unlink()
            # WHEN a construct is made from it (the JavaScript that the Python package runs)
            script = WRONG_PROPS_JS.replace("database: db, secret: db.secret, migrationsDir", "database: db, migrationsDir")
            env = dict(os.environ, NODE_PATH=str(CDK_DIR / "node_modules"))
            done = subprocess.run(
                ["node", "-e", script, str(pkg), str(MIGRATIONS)], env=env, capture_output=True, text=True, timeout=300
            )
        # THEN it says that the package was built without the binary, and what to do
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertIn("this schemagate-cdk package was built without the Lambda binary", done.stdout)
        self.assertIn("lambda/bootstrap` is missing", done.stdout)
        self.assertIn("pip install schemagate-cdk", done.stdout)


class DocsInPython(unittest.TestCase):
    def test_the_constructs_example_is_python_translated_by_rosetta(self):
        from schemagate_cdk import SchemaMigrations

        doc = SchemaMigrations.__doc__
        self.assertIn('SchemaMigrations(self, "Migrations"', doc)
        self.assertIn('migrations_dir="migrations"', doc)
        self.assertIn("migrations.gate(web)", doc)
        self.assertNotIn("new SchemaMigrations", doc)


class WrongPropsInPython(unittest.TestCase):
    def test_a_wrong_prop_combination_gives_the_typescript_message(self):
        import aws_cdk as cdk
        from aws_cdk import aws_ec2 as ec2
        from aws_cdk import aws_rds as rds
        from schemagate_cdk import SchemaMigrations

        # GIVEN the message TypeScript gives for `database` together with `secret`
        expected = run_js([str(OUT / "stage"), str(MIGRATIONS)])
        self.assertIn("give either `database`, or `secret` and `connections`, not both", expected)
        # WHEN Python makes the same mistake
        stack = cdk.Stack(cdk.App(), "Data")
        vpc = ec2.Vpc(stack, "Vpc")
        db = rds.DatabaseInstance(
            stack,
            "Db",
            engine=rds.DatabaseInstanceEngine.maria_db(version=rds.MariaDbEngineVersion.VER_10_11),
            vpc=vpc,
            credentials=rds.Credentials.from_generated_secret("admin"),
        )
        # (jsii's Python runtime raises a RuntimeError carrying the JavaScript Error's message)
        with self.assertRaises(RuntimeError) as raised:
            SchemaMigrations(stack, "Migrations", database=db, secret=db.secret, migrations_dir=str(MIGRATIONS))
        # THEN it gets the same message
        self.assertEqual(str(raised.exception), expected)


if __name__ == "__main__":
    unittest.main(verbosity=2)
