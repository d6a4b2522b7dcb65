"""The documentation stays inside the repository and its references resolve.

- README.md stays short (at most README_MAX_LINES lines); everything else lives in docs/.
- Every Markdown link in README.md and docs/*.md points at a file or folder of the repository, and an
  anchor (`#...`) matches a heading of its target (GitHub's slugs).
- Every backticked repository path in them (`gateway/payload.py`, `tests/x.py::test_y`) exists, unless
  git ignores it (generated output such as bench/results/latest.json).
- A citation of a section in any tracked file, `docs/design.md "Payload rules"` or `README "Layout"`,
  names a heading of that file.
- No tracked file refers to the former design document outside the repository, or leaves the
  repository with a relative `../` path.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:
_REPO_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?(::[A-Za-z_][A-Za-z0-9_]*)?$")
_CITATION = re.compile(r"(?<![\w/.-])((?:docs/)?[A-Za-z0-9_-]+\.md|README)\s+\"([^\"\n]+)\"")
_FORMER_DESIGN = re.compile(r"shared/DESIGN|\bDESIGN(\.md)?\b")
_PARENT_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.-][\w./-]*)")


@cache
def repository_files() -> tuple[str, ...]:
    """Tracked files and new files git does not ignore (so a docs change can be tested before commit)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=ROOT, check=True, capture_output=True).stdout.decode()
    return tuple(sorted({name for name in out.split("\0") if name and (ROOT / name).exists()}))


@cache
def repository_dirs() -> frozenset[str]:
    """Every folder that holds at least one repository file ("" is the root)."""
    dirs = {""}
    for name in repository_files():
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(dirs)


def exists_in_repository(rel: str) -> bool:
    """True when `rel` (relative to the root, normalised) is a repository file or folder."""
    rel = rel.rstrip("/")
    return rel in repository_dirs() or rel in set(repository_files())


def is_ignored(rel: str) -> bool:
    """True when git ignores the path (generated or local output)."""
    return subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT).returncode == 0


def resolve(base_dir: Path, target: str) -> str | None:
    """`target` relative to `base_dir`, as a path relative to the root; None when it leaves the root."""
    path = (base_dir / target).resolve() if target else base_dir.resolve()
    try:
        return path.relative_to(ROOT).as_posix() if path != ROOT else ""
    except ValueError:
        return None


def doc_files() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def headings(rel: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(heading texts, anchors) of a Markdown file; repeated headings get -1, -2, ... as on GitHub."""
    texts, anchors, seen = [], set(), {}
    for _, line in prose_lines(ROOT / rel):
        match = _HEADING.match(line)
        if not match:
            continue
        texts.append(match.group(2).replace("`", ""))
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return tuple(texts), frozenset(anchors)


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link outside code."""
    found = []
    for number, line in prose_lines(path):
        for target in _LINK.findall(_INLINE_CODE.sub("", line)):
            found.append((number, target))
    return found


def code_spans(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every inline code span outside fenced blocks."""
    return [(number, match.group(2).strip()) for number, line in prose_lines(path)
            for match in _INLINE_CODE.finditer(line)]


def text_files() -> list[tuple[str, str]]:
    """(path, text) of every repository file that is UTF-8 text, except this test (it spells the patterns)."""
    files = []
    for rel in repository_files():
        if rel == THIS_FILE:
            continue
        try:
            files.append((rel, (ROOT / rel).read_text(encoding="utf-8")))
        except (UnicodeDecodeError, IsADirectoryError):
            continue
    return files


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the detail into docs/ and link it")


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(path: Path):
    problems = []
    for number, target in links(path):
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        rel = resolve(path.parent, file_part)
        where = f"{path.relative_to(ROOT)}:{number}: ({target})"
        if rel is None:
            problems.append(f"{where} leaves the repository")
        elif not exists_in_repository(rel):
            problems.append(f"{where} names no file or folder of the repository")
        elif anchor and rel.endswith(".md") and anchor not in headings(rel)[1]:
            problems.append(f"{where}: no heading of {rel} has the anchor #{anchor}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_backticked_repository_path_exists(path: Path):
    """A code span that starts with a top-level folder of the repository (`gateway/...`) is a path."""
    top_level = {d for d in repository_dirs() if d and "/" not in d}
    problems = []
    for number, span in code_spans(path):
        if not _REPO_PATH.match(span) or "/" not in span or span.split("/", 1)[0] not in top_level:
            continue
        rel, _, test_name = span.partition("::")
        where = f"{path.relative_to(ROOT)}:{number}: `{span}`"
        if not exists_in_repository(rel):
            if not is_ignored(rel):
                problems.append(f"{where} does not exist")
        elif test_name and not re.search(rf"^\s*(async\s+)?def {re.escape(test_name)}\(",
                                         (ROOT / rel).read_text(encoding="utf-8"), re.MULTILINE):
            problems.append(f"{where}: {rel} has no test {test_name}")
    assert not problems, "\n".join(problems)


def test_section_citations_name_a_heading():
    """`docs/design.md "Payload rules"` in a docstring or comment must name a heading of that file."""
    problems = []
    for rel, text in text_files():
        for match in _CITATION.finditer(text):
            cited, section = match.group(1), match.group(2)
            target = "README.md" if cited == "README" else cited
            if "/" not in target and not target.startswith("README"):
                target = resolve((ROOT / rel).parent, target) or target
            if not (ROOT / target).is_file():
                continue  # not a file of ours (e.g. a file name in prose); links are checked above
            texts = {t.lower() for t in headings(target)[0]}
            if section.lower() not in texts:
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f'{rel}:{line}: {cited} has no section "{section}"')
    assert not problems, "\n".join(problems)


def test_nothing_refers_to_the_former_design_document():
    problems = []
    for rel, text in text_files():
        for match in _FORMER_DESIGN.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{rel}:{line}: {match.group(0)!r} (the design is docs/design.md)")
    assert not problems, "\n".join(problems)


def test_no_relative_path_leaves_the_repository():
    problems = []
    for rel, text in text_files():
        base = (ROOT / rel).parent
        for match in _PARENT_PATH.finditer(text):
            if resolve(base, match.group(1)) is None:
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{rel}:{line}: {match.group(1)} leaves the repository")
    assert not problems, "\n".join(problems)
