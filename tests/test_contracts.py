"""The proto contracts: lint-clean, and the committed generated code matches them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"


def test_generated_code_is_not_stale(tmp_path: Path):
    """Regenerate into a temp dir and compare with what is committed (run `make proto` to fix)."""
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *files],
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    assert generated, "protoc generated nothing"
    stale = [str(p) for p in generated if (tmp_path / p).read_bytes() != (ROOT / p).read_bytes()]
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def test_protos_pass_buf_lint():
    buf = Path(sys.executable).with_name("buf")
    result = subprocess.run([str(buf), "lint", str(PROTOS)], capture_output=True, text=True, cwd=PROTOS)
    assert result.returncode == 0, result.stdout + result.stderr
