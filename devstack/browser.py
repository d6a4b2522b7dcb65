"""The headless Chromium the browser tests drive (tests/browser/), found or installed, and proved to start.

`python -m devstack.browser` (`make browser`, a prerequisite of `make test`) makes sure there is one:

1. $CHROMIUM when set (it must then be there: a wrong value is an error, not a fallback),
   else Debian's /usr/bin/chromium, else the one `playwright install chromium` put in Playwright's cache;
2. none: as root on a machine with apt-get (CI, Debian containers), `apt-get install chromium`;
   elsewhere `playwright install chromium` (Playwright's download);
3. then it starts it headless on about:blank and prints one line naming the browser, or exits 1 with
   what went wrong. It never lets the tests skip for want of a browser: they fail instead.

Already installed, it only finds and starts it (about a second). tests/browser/conftest.py uses
`find_chromium` and `LAUNCH_ARGS` from here, so the tests drive the very browser this checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (root in containers), no GPU, and nothing the browser would fetch on its own: on a closed
# network its background connections (updates, sync, QUIC probes) are refused and slow every start.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LAUNCH_TIMEOUT_MS = 60_000
INSTALL_TIMEOUT_S = 1800


class BrowserError(RuntimeError):
    """No usable Chromium: the message says what was tried and what to do."""


@dataclass(frozen=True)
class Chromium:
    path: Path
    source: str  # where it came from, for the one line printed


def find_chromium() -> Chromium | None:
    """The Chromium to drive, or None when there is none. $CHROMIUM set to a missing file is an error."""
    named = os.environ.get("CHROMIUM", "").strip()
    if named:
        path = Path(shutil.which(named) or named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserError(f"CHROMIUM={named} is not an executable file")
        return Chromium(path, "$CHROMIUM")
    if DEBIAN_CHROMIUM.is_file() and os.access(DEBIAN_CHROMIUM, os.X_OK):
        return Chromium(DEBIAN_CHROMIUM, "Debian package chromium")
    own = playwright_chromium()
    if own is not None:
        return Chromium(own, "playwright install chromium")
    return None


def playwright_chromium() -> Path | None:
    """The Chromium `playwright install chromium` installed (Playwright's cache), when it is there."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        path = Path(pw.chromium.executable_path)
    return path if path.is_file() else None


def install() -> None:
    """Install a Chromium: Debian's package as root with apt-get, else Playwright's download."""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("browser: no Chromium found; installing Debian's chromium with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get (a parallel `make test`) finishes first
        _run(["apt-get", "update", "-qq", *wait], env)
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wait, "chromium"], env)
    else:
        print("browser: no Chromium found; running `playwright install chromium` ...", flush=True)
        playwright = Path(sys.executable).with_name("playwright")
        _run([str(playwright) if playwright.exists() else "playwright", "install", "chromium"], dict(os.environ))


def _run(argv: list[str], env: dict[str, str]) -> None:
    """Run quietly; on failure raise with the command and the end of its output."""
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrowserError(f"`{' '.join(argv)}` failed: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BrowserError(f"`{' '.join(argv)}` exited with {done.returncode}:\n{tail}")


def launch_options(chromium: Chromium) -> dict:
    """Keyword arguments for playwright's chromium.launch()."""
    return {"executable_path": str(chromium.path), "headless": True, "args": list(LAUNCH_ARGS),
            "timeout": LAUNCH_TIMEOUT_MS}


def prove(chromium: Chromium) -> str:
    """Start it headless, open about:blank, close it; return its version."""
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**launch_options(chromium))
            try:
                page = browser.new_page()
                page.goto("about:blank")
                return browser.version
            finally:
                browser.close()
    except Error as exc:
        raise BrowserError(f"{chromium.path} does not start headless: {exc.message.strip()}") from None


def ensure() -> tuple[Chromium, str]:
    """A Chromium that starts (installed when missing) and its version."""
    chromium = find_chromium()
    if chromium is None:
        install()
        chromium = find_chromium()
        if chromium is None:
            raise BrowserError("the install finished but no Chromium is there")
    return chromium, prove(chromium)


def missing_message() -> str:
    return ("no Chromium for the browser tests: run `make browser` (Debian's chromium through apt-get as root, "
            "else `playwright install chromium`), or set CHROMIUM to a Chromium executable")


def main() -> int:
    try:
        chromium, version = ensure()
    except BrowserError as exc:
        print(f"browser: FAILED: {exc}\nThe browser tests need a headless Chromium; see devstack/browser.py.",
              file=sys.stderr)
        return 1
    print(f"browser: Chromium {version} at {chromium.path} ({chromium.source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
