"""Publishing and installing the course: the book's address, the Pages workflow, releases,
the Makefile's install and lab targets, and what the package declares.

The workflow cannot run here, so it is validated offline: against GitHub's workflow schema
(check-jsonschema's bundled copy) and by zizmor's security audit, both installed by
requirements.txt (with CI=true a missing linter fails instead of skipping).
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tools import colab_cell, release

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import book_url  # noqa: E402  (the Sphinx extension in _ext/, importable as a module)

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    path = str(exe) if exe.exists() else shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is not installed (requirements.txt installs it)")
        pytest.skip(f"{name} is not installed")
    return path


# --- the book's address ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "url"),
    [
        ("https://github.com/mdiff-course/memorization-diffusion",
         "https://mdiff-course.github.io/memorization-diffusion/"),
        ("https://github.com/Some-Org/Course.git/", "https://some-org.github.io/Course/"),
        ("https://www.github.com/me/me.github.io", "https://me.github.io/"),
    ],
)  # fmt: skip
def test_pages_url(repository, url):
    assert book_url.pages_url(repository) == url


@pytest.mark.parametrize(
    "repository",
    ["http://github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a", "github.com/a/b"],
)
def test_pages_url_rejects_other_addresses(repository):
    with pytest.raises(ValueError, match="repository.url"):
        book_url.pages_url(repository)


def _derived_url() -> str:
    return book_url.pages_url(book_url.repository_url(ROOT))


def test_readme_states_the_derived_book_url():
    readme = (ROOT / "README.md").read_text()
    assert _derived_url() in readme
    # GitHub Pages hosts are lower case (https://OWNER.github.io/REPO/ is the pattern, not one)
    stated = set(re.findall(r"https://[a-z0-9.-]+\.github\.io/[\w./-]*", readme))
    other = {url for url in stated if not url.startswith(_derived_url())}
    assert not other, f"README states other book addresses: {other}"


def test_landing_page_uses_the_derived_url():
    intro = (ROOT / "intro.md").read_text()
    assert "{{ book_url }}" in intro
    assert ".github.io" not in intro  # never spelled out: derived at build time


def test_citation_cff_matches_the_repository_setting():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["url"] == _derived_url()
    assert cff["repository-code"] == book_url.repository_url(ROOT)
    assert str(cff["version"]) == colab_cell.package_version()


def test_package_metadata_names_the_same_repository():
    """mdiff.long_run fetches a release's results from the repository of the package metadata."""
    urls = importlib.metadata.metadata("mdiff").get_all("Project-URL") or []
    assert f"Repository, {book_url.repository_url(ROOT)}" in urls


# --- the Pages workflow ------------------------------------------------------------------


def test_workflow_matches_githubs_schema():
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_passes_the_security_audit():
    done = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_tests_like_ci_and_deploys_main():
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    test, deploy = flow["jobs"]["test"], flow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in test["steps"]]
    assert "bash .ci/run" in runs  # the same make test as the course's CI
    upload = next(s for s in test["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"  # exactly the book make test built
    assert "refs/heads/main" in upload["if"] and "refs/heads/main" in deploy["if"]
    assert deploy["needs"] == "test"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    for job in flow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_ci_run_runs_make_test():
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


# --- releases -----------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A tiny course repository whose release v0.3.0 is ready to tag."""
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "t")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "t@example.org")
    url = "https://github.com/o/r"
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {url}\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mdiff"\nversion = "0.3.0"\n')
    (tmp_path / "mdiff").mkdir()
    (tmp_path / "mdiff" / "__init__.py").write_text('__version__ = "0.3.0"\n')
    (tmp_path / "CITATION.cff").write_text(f'version: 0.3.0\nrepository-code: "{url}"\n')
    (tmp_path / "README.md").write_text(
        "@misc{mdiffcourse2026,\n  title = {C},\n  version = {0.3.0}\n}\n"
    )
    (tmp_path / "chapters").mkdir()
    cell = nbformat.v4.new_code_cell(colab_cell.colab_source(tmp_path), execution_count=1)
    cell.metadata["tags"] = ["hide-input"]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "chapters" / "01-x.ipynb")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "course")
    return tmp_path


def test_release_dry_run_checks_and_tags_nothing(course, capsys):
    assert release.main(["--dry-run"], root=course) == 0
    out = capsys.readouterr().out
    assert "release v0.3.0: all checks passed" in out
    assert "would run: git tag -a v0.3.0" in out
    assert _git(course, "tag") == ""


def test_release_tags_an_annotated_tag_once(course, capsys):
    assert release.main([], root=course) == 0
    assert _git(course, "tag") == "v0.3.0\n"
    assert _git(course, "cat-file", "-t", "v0.3.0").strip() == "tag"  # annotated
    assert "git push origin v0.3.0" in capsys.readouterr().out
    assert release.main(["--dry-run"], root=course) == 1
    assert "tag v0.3.0 exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("mdiff/__init__.py", '__version__ = "0.2.9"\n', "__version__ is '0.2.9'"),
        ("CITATION.cff", "version: 0.2.9\n", "CITATION.cff version is '0.2.9'"),
        ("README.md", "@misc{mdiffcourse2026,\n  title = {C}\n}\n", "README.md's BibTeX"),
        ("references.bib", "@misc{mdiffcourse2026,\n  version = {0.1}\n}\n", "references.bib"),
        ("pyproject.toml", '[project]\nversion = "0.4.0"\n', "does not install v0.4.0"),
    ],
)
def test_release_refuses_disagreeing_versions(course, capsys, path, text, message):
    (course / path).write_text(text)
    _git(course, "add", "-A")
    _git(course, "commit", "-qm", "change")
    assert release.main(["--dry-run"], root=course) == 1
    assert message in capsys.readouterr().err
    assert _git(course, "tag") == ""


def test_release_refuses_a_dirty_tree(course, capsys):
    (course / "new.txt").write_text("x\n")
    assert release.main([], root=course) == 1
    assert "not clean" in capsys.readouterr().err
    assert _git(course, "tag") == ""


def test_course_citation_versions_agree():
    """The checks of `make release` that do not depend on git or on the notebooks."""
    version = colab_cell.package_version()
    assert release.package_init_version(ROOT) == version
    assert release.bibtex_versions((ROOT / "README.md").read_text()) == [version]
    assert release.cff_field((ROOT / "CITATION.cff").read_text(), "version") == version
    readme = (ROOT / "README.md").read_text()
    pins = re.findall(r"git\+https://[^\s\"`]+@([\w.]+)", readme)
    assert pins and set(pins) == {f"v{version}"}, pins  # install commands name the release


# --- the Makefile -------------------------------------------------------------------------


def _make_n(*args: str) -> str:
    done = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, env={**os.environ}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_venv_installs_the_pinned_torch_from_the_cpu_index_on_linux():
    pin = re.search(r"^(torch==\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    recipe = _make_n("-W", "requirements.txt", ".venv/.installed")
    if sys.platform.startswith("linux"):
        assert f'--no-deps --no-index "{pin}"' in recipe  # a local wheel first, no network
        assert f'--index-url "https://download.pytorch.org/whl/cpu" "{pin}"' in recipe
    assert recipe.index(pin) < recipe.index("-r requirements.txt")
    plain = _make_n("-W", "requirements.txt", ".venv/.installed", "TORCH_INDEX=")
    assert 'if [ -n "" ]' in plain  # TORCH_INDEX= : PyPI's default build


def test_lab_is_for_students_and_lab_instructor_has_nbgrader():
    lab = _make_n("lab")
    assert '"@jupyter/nbgrader": true' in lab  # the front-end disabled
    for ext in ("formgrader", "assignment_list", "course_list", "validate_assignment"):
        assert f"'nbgrader.server_extensions.{ext}': False" in lab
    assert "JUPYTER_CONFIG_PATH=" in lab and ".venv/etc/jupyter-student" in lab
    assert ("--allow-root" in lab) == (os.getuid() == 0)
    instructor = _make_n("lab-instructor", "COURSE=some/course")
    assert "cd some/course" in instructor and "nbgrader" not in instructor


def test_make_release_dry_run():
    assert "-m tools.release --dry-run" in _make_n("release", "DRY_RUN=1")
    assert "--dry-run" not in _make_n("release")


# --- what the package declares --------------------------------------------------------------

PROVIDED_BY_JUPYTER = {"IPython", "ipykernel"}  # a notebook kernel always has them


def _imports(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower().replace("_", "-")


def test_package_declares_what_it_and_the_chapters_import():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(d) for d in project["dependencies"]}
    extras = {_requirement_name(d) for d in project["optional-dependencies"]["classroom"]}
    assert {"scipy", "scikit-learn", "ipywidgets"} <= core
    assert "nbformat" in extras
    distributions = importlib.metadata.packages_distributions()

    def undeclared(modules: set[str], declared: set[str]) -> set[str]:
        third_party = modules - set(sys.stdlib_module_names) - {"mdiff"} - PROVIDED_BY_JUPYTER
        return {
            m for m in third_party if not {d.lower() for d in distributions.get(m, [m])} & declared
        }

    package = set()
    for path in (ROOT / "mdiff").rglob("*.py"):
        if path.name != "classroom.py" and path.parent.name != "classroom":
            package |= _imports(path.read_text())
    assert not undeclared(package, core), "mdiff imports undeclared packages"
    classroom = set()
    for path in [*(ROOT / "mdiff").glob("classroom.py"), *(ROOT / "mdiff").glob("classroom/*.py")]:
        classroom |= _imports(path.read_text())
    assert not undeclared(classroom, core | extras), "mdiff.classroom: undeclared packages"
    chapters = set()
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                code = "\n".join(  # IPython magics and shell lines are not Python
                    re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in cell.source.splitlines()
                )
                chapters |= _imports(code)
    assert not undeclared(chapters, core), "the chapters import packages mdiff does not declare"
