"""Chapter 9 cells: (id, kind, source or None = keep, metadata or None = keep)."""
CELLS = []


def keep(cid, kind="code"):
    CELLS.append((cid, kind, None, None))


def md(cid, text, meta=None):
    CELLS.append((cid, "markdown", text.strip("\n"), meta))


def code(cid, text, meta=None):
    CELLS.append((cid, "code", text.strip("\n"), meta))


def fig(alt, caption, name, extra_tags=("hide-input",)):
    return {
        "mystnb": {"image": {"alt": alt}, "figure": {"caption": caption, "name": name}},
        "tags": list(extra_tags),
    }


VOLATILE = {"tags": ["nbval-ignore-output", "remove-output"]}
IGNORE = {"tags": ["nbval-ignore-output"]}

import os
RES = os.environ.get("CH09_RESULTS", "/work/main/results")
HAVE = {n: os.path.exists(f"{RES}/{n}.csv") for n in ["E8c", "E7", "E8d", "E9"]}
print("stored files:", HAVE)
exec(open("/tmp/ch09b/cells_body.py").read())
