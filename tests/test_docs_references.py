"""Docs that cannot drift: every reference in README.md and docs/*.md to the code resolves.

The rules (run `pytest tests/test_docs_references.py` after merging anyone's docs):
1. A dotted Python name in single backticks that starts with one of the project's packages
   (`risk.services.jobs`, `risk.rules.evaluate_signup`, `risk.rules.evaluate_signup()`) must
   import: the longest importable module prefix, then attributes for the rest. Two-part
   names that are Django labels resolve as such instead (a module that cannot load here, an
   integration with a package this project does not install, must define the name in its
   source): a model (`risk.Device`), a
   permission (`risk.record_decision`) or a system check id (`risk.E001`, found in the app's
   source; `risk.E00x` stands for a family and is not checked).
2. A relative Markdown link `[text](path)` or `[text](path#anchor)` must name a file or
   directory that exists, relative to the document (web links and same-page #anchors are
   not checked).
3. A repository path in single backticks (`risk/services/jobs.py`, `docs/drn.md`, with a
   slash and a file extension, or ending in a slash) must exist relative to the repository
   root. Paths that start with `/`, `~` or `..` (outside the repository) are not checked, nor
   generated ones (first component listed in .gitignore, e.g. `staticfiles/`).
Fenced code blocks (```) are skipped: they hold commands and output, not references.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("risk", "accounts", "sandbox", "fpdjango")

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+(?:\(\))?$")
REPO_PATH = re.compile(r"^[\w.-]+(?:/[\w.*-]+)*(?:/|\.(?:py|md|html|js|css|toml|txt|json|cfg|sh))$")


def _ignored() -> set[str]:
    lines = ROOT.joinpath(".gitignore").read_text().splitlines()
    return {line.strip() for line in lines if line.strip().endswith("/")}


def _text(doc: Path) -> str:
    return FENCE.sub("", doc.read_text())


def _django_label(dotted: str) -> bool:
    """A model, permission or system check id named `app_label.name`."""
    from django.apps import apps

    label, name = dotted.split(".")
    if re.fullmatch(r"[EWI]\d{2}x", name):
        return True  # a family of check ids
    if re.fullmatch(r"[EWI]\d{3}", name):
        sources = (ROOT / label).rglob("*.py")
        return any(f'"{dotted}"' in path.read_text() for path in sources)
    try:
        apps.get_model(label, name)
        return True
    except LookupError:
        pass
    try:
        config = apps.get_app_config(label)
    except LookupError:
        return False
    codenames = set()
    for model in config.get_models():
        codenames |= {codename for codename, _ in model._meta.permissions}
        codenames |= {
            f"{action}_{model._meta.model_name}" for action in model._meta.default_permissions
        }
    return name in codenames


def _resolves(dotted: str) -> bool:
    if dotted.count(".") == 1 and not dotted.endswith("()") and _django_label(dotted):
        return True
    parts = dotted.removesuffix("()").split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        except RuntimeError:
            # An integration whose package is not installed in this project (allauth's models
            # refuse to load): its source must define the name.
            return _defined_in_source(parts)
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def _defined_in_source(parts: list[str]) -> bool:
    for i in range(len(parts), 0, -1):
        path = ROOT.joinpath(*parts[:i]).with_suffix(".py")
        if path.is_file():
            module, names = path, parts[i:]
            break
    else:
        return False
    tree = ast.parse(module.read_text())
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return len(names) <= 1 and (not names or names[0] in defined)


def _references(kind: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = _text(doc)
        name = doc.relative_to(ROOT).as_posix()
        if kind == "link":
            found += [(name, target) for target in LINK.findall(text)]
        else:
            for span in CODE.findall(text):
                span = span.strip()
                if kind == "dotted" and DOTTED.match(span):
                    found.append((name, span))
                if kind == "path" and "/" in span and REPO_PATH.match(span):
                    found.append((name, span))
    return found


@pytest.mark.parametrize(("doc", "name"), _references("dotted"))
def test_dotted_name_resolves(doc, name):
    assert _resolves(name), f"{doc}: `{name}` does not resolve"


@pytest.mark.parametrize(("doc", "target"), _references("link"))
def test_relative_link_resolves(doc, target):
    if re.match(r"^[a-z]+:", target) or target.startswith("#"):
        return  # web links and anchors on the same page
    path = target.split("#")[0]
    assert (ROOT / doc).parent.joinpath(path).exists(), f"{doc}: link to {target} is broken"


@pytest.mark.parametrize(("doc", "path"), _references("path"))
def test_repository_path_exists(doc, path):
    if path.startswith(("/", "~", "..")) or path.split("/")[0] + "/" in _ignored():
        return
    if "*" in path:
        assert list(ROOT.glob(path)), f"{doc}: `{path}` matches nothing"
    else:
        assert (ROOT / path).exists(), f"{doc}: `{path}` does not exist"


def test_the_checks_find_references():
    # Guards the regexes: if they stopped matching, every test above would pass vacuously.
    assert len(_references("dotted")) >= 5
    assert len(_references("link")) >= 5
    assert len(_references("path")) >= 5
    assert not _resolves("risk.services.no_such_module")
    assert not _resolves("risk.rules.no_such_function")
    assert _resolves("risk.rules.evaluate_signup()")
    assert _resolves("risk.Device") and not _resolves("risk.NoSuchModel")
    assert _resolves("risk.record_decision") and not _resolves("risk.no_such_permission")
    assert not _resolves("risk.E999")
