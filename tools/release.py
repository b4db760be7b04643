"""Tag a release of the course: ``vX.Y.Z`` for the version in ``pyproject.toml``.

Usage: ``python -m tools.release [--dry-run]`` (``make release``, ``make release DRY_RUN=1``).

A release is what the Colab cells and the citation refer to, so before tagging it checks that

1. the git work tree is clean (the tag names exactly the committed files);
2. ``pyproject.toml``'s version equals ``mdiff.__version__``, the ``version:`` of
   ``CITATION.cff``, the ``version = {...}`` of the README's BibTeX entry of the course, and,
   where they state one, ``references.bib``'s entry ``mdiffcourse2026`` and CITATION.cff's
   ``url``/``repository-code`` (the book's address and its repository);
3. every chapter's first code cell is the Colab cell of that version
   (``python -m tools.colab_cell chapters/*.ipynb`` writes them), which installs
   ``mdiff @ git+URL@vX.Y.Z``;
4. the tag does not exist yet.

Then it runs ``git tag -a vX.Y.Z -m ...`` and prints the ``git push`` to publish it. With
``--dry-run`` it runs every check, prints the git command, and changes nothing. It exits 1 if
a check fails (printing every failure), 0 otherwise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from tools import colab_cell

ROOT = Path(__file__).resolve().parents[1]
COURSE_BIB_KEY = "mdiffcourse2026"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def package_init_version(root: Path) -> str | None:
    """``__version__`` of ``mdiff/__init__.py``, read without importing the package."""
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', _read(root / "mdiff" / "__init__.py"), re.M)
    return match.group(1) if match else None


def bibtex_versions(text: str, key: str = COURSE_BIB_KEY) -> list[str]:
    """The ``version = {...}`` fields of the BibTeX entries ``key`` in ``text``."""
    versions = []
    for entry in re.finditer(r"@\w+\{\s*" + re.escape(key) + r"\s*,(.*?)\n\}", text, re.S):
        versions += re.findall(r"^\s*version\s*=\s*[{\"]([^}\"]+)[}\"]", entry.group(1), re.M)
    return versions


def cff_field(text: str, name: str) -> str | None:
    """A top-level scalar of CITATION.cff (``name: value``, quotes removed)."""
    match = re.search(rf"^{name}:\s*[\"']?([^\"'\n]+?)[\"']?\s*$", text, re.M)
    return match.group(1) if match else None


def check(root: Path = ROOT) -> tuple[str, list[str]]:
    """Return ``(tag, failures)``; ``failures`` is empty when the release may be tagged."""
    failures: list[str] = []
    version = colab_cell.package_version(root)
    tag = f"v{version}"

    status = _git(root, "status", "--porcelain")
    if status.returncode != 0:
        failures.append(f"not a git work tree: {status.stderr.strip()}")
    elif status.stdout.strip():
        changed = ", ".join(line[3:] for line in status.stdout.splitlines()[:5])
        failures.append(f"the work tree is not clean (commit or remove first): {changed}")

    init = package_init_version(root)
    if init != version:
        failures.append(f"mdiff/__init__.py __version__ is {init!r}, pyproject.toml {version!r}")
    cff = _read(root / "CITATION.cff")
    if cff_field(cff, "version") != version:
        failures.append(
            f"CITATION.cff version is {cff_field(cff, 'version')!r}, pyproject.toml {version!r}"
        )
    repository = colab_cell.repository_url(root)
    if cff and cff_field(cff, "repository-code") not in (None, repository):
        failures.append(f"CITATION.cff repository-code is not repository.url {repository!r}")
    readme = bibtex_versions(_read(root / "README.md"))
    if readme != [version]:
        failures.append(f"README.md's BibTeX entry {COURSE_BIB_KEY} states version {readme}, "
                        f"want [{version!r}]")  # fmt: skip
    bib = bibtex_versions(_read(root / "references.bib"))
    if any(v != version for v in bib):
        failures.append(f"references.bib's {COURSE_BIB_KEY} states version {bib}, want {version}")

    source = colab_cell.colab_source(root)
    for path in sorted((root / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not code or not colab_cell.is_colab_cell(code[0], source):
            failures.append(
                f"{path.relative_to(root)}: the Colab cell does not install {tag} "
                "(python -m tools.colab_cell chapters/*.ipynb, then commit)"
            )

    if _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode == 0:
        failures.append(f"tag {tag} exists already: bump the version in pyproject.toml")
    return tag, failures


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="check and print; tag nothing")
    args = parser.parse_args(argv)
    tag, failures = check(root)
    for failure in failures:
        print(f"release {tag}: {failure}", file=sys.stderr)
    if failures:
        return 1
    command = ["git", "tag", "-a", tag, "-m", f"Course release {tag} (mdiff {tag[1:]})"]
    print("release " + tag + ": all checks passed")
    if args.dry_run:
        print("dry run; would run: " + " ".join(command[:4]) + f' -m "{command[5]}"')
        return 0
    done = subprocess.run(command, cwd=root)
    if done.returncode != 0:
        return done.returncode
    print(f"tagged {tag}; publish it with: git push origin {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
