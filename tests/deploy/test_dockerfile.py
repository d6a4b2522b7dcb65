"""The Dockerfile and deploy/entrypoint.sh against the code: roles, commands, ports, what is copied.

Read as text: there is no Docker daemon here, so the image itself is not built by the tests.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys

import pytest
from config_names import ROOT
from deploy_roles import (
    DOCKERFILE,
    ENTRYPOINT_SCRIPT,
    LOADED_BY_GUNICORN,
    LONG_RUNNING,
    ROLES,
    code,
    console_scripts,
    copies,
    dockerfile_stages,
    entrypoint_arms,
    exposed_ports,
    final_stage,
    image_entrypoint,
    role_commands,
    role_modules,
)

from common.config import (
    CUSTOMER_SERVICE_DEFAULT_PORT,
    DASHBOARD_DEFAULT_PORT,
    GATEWAY_ADMIN_DEFAULT_PORT,
    GATEWAY_DEFAULT_PORT,
    IDENTIFIER_SERVICE_DEFAULT_PORT,
    PROCESSOR_GRPC_DEFAULT_PORT,
)


def command_choices(package: str) -> list[str]:
    """The commands `python -m package` accepts, as its own --help lists them (`{serve,migrate}`)."""
    result = subprocess.run([sys.executable, "-m", package, "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"python -m {package} --help: {result.stderr}"
    match = re.search(r"\{([a-z,]+)\}", result.stdout)
    assert match, f"python -m {package} --help lists no commands: {result.stdout}"
    return match.group(1).split(",")


def test_the_entrypoint_accepts_exactly_the_eight_roles():
    patterns = set(entrypoint_arms()) - {"-h", "--help", "help", "*"}
    assert patterns == ROLES


def test_every_python_command_is_a_real_entrypoint_with_a_command_it_accepts():
    for role in sorted(ROLES):
        for command in role_commands(role):
            if command[0] != "python":
                continue
            assert command[1] == "-m" and len(command) == 4, f"{role}: {command}"
            package, subcommand = command[2], command[3]
            assert (ROOT / package / "__main__.py").exists(), f"{role}: no {package}/__main__.py"
            assert subcommand in command_choices(package), f"{role}: `{subcommand}` is not a command of {package}"


def test_the_server_roles_run_the_servers():
    assert role_commands("gateway") == [["python", "-m", "gateway", "serve"]]
    assert role_commands("processor") == [["python", "-m", "processor", "serve"]]
    assert role_commands("customer-service") == [["python", "-m", "customer_service", "serve"]]
    assert role_commands("identifier-service") == [["python", "-m", "identifier_service", "serve"]]
    assert role_commands("gateway-admin") == [["python", "-m", "gateway_admin", "serve"]]
    assert role_commands("dashboard") == [["python", "-m", "dashboard", "serve"]]


def test_the_usage_line_names_every_role():
    text = ENTRYPOINT_SCRIPT.read_text()
    usage = next(line for line in text.splitlines() if line.strip().startswith('echo "roles:'))
    named = {word for word in re.findall(r"[a-z][a-z-]*", usage.partition("roles:")[2])} - {"autentikapp", "args"}
    assert named == ROLES


def test_long_running_roles_exec_so_the_process_gets_the_signals():
    for role in LONG_RUNNING | {"cli"}:
        lines = entrypoint_arms()[role]
        assert len(lines) == 1 and lines[0][0] == "exec", f"{role} must exec its process: {lines}"


def test_migrate_runs_what_make_migrate_runs_and_that_covers_every_process():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nmigrate:"):].split("\n\n")[0]
    assert re.findall(r"autentikapp migrate$", recipe, re.MULTILINE) == ["autentikapp migrate"]
    assert role_commands("migrate") == [["autentikapp", "migrate"]]
    from cli.migrate import PROCESSES
    with_a_main = sorted(path.parent.name for path in ROOT.glob("*/__main__.py")
                         if "common.entrypoint import main" in path.read_text())
    # gateway_admin works on the gateway's database: its `migrate` is the gateway's, run once by that step.
    from gateway_admin.process import PROCESS as GATEWAY_ADMIN
    from gateway.process import PROCESS as GATEWAY
    assert GATEWAY_ADMIN.migrate is GATEWAY.migrate
    assert sorted([*(process.name for process in PROCESSES), GATEWAY_ADMIN.name]) == with_a_main


def test_cli_runs_the_console_script_pyproject_declares():
    assert role_commands("cli") == [["autentikapp"]]
    assert "autentikapp" in console_scripts()


def test_gunicorn_loads_the_modules_the_role_scan_assumes():
    """role_modules adds the modules gunicorn loads by name; gateway/process.py must still name them."""
    for package in ("gateway", "dashboard"):
        source = (ROOT / package / "process.py").read_text()
        assert '"gunicorn_conf.py"' in source and f'"{package}.wsgi:app"' in source, package
        assert LOADED_BY_GUNICORN[package] == [f"{package}.gunicorn_conf", f"{package}.wsgi"]
    assert set(LOADED_BY_GUNICORN) == {"gateway", "dashboard"}


def test_the_entrypoint_is_posix_sh_and_executable():
    text = ENTRYPOINT_SCRIPT.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT_SCRIPT)]).returncode == 0
    assert os.access(ENTRYPOINT_SCRIPT, os.X_OK)
    mode = subprocess.run(["git", "ls-files", "-s", "deploy/entrypoint.sh"], cwd=ROOT, capture_output=True,
                          text=True).stdout.split()
    if mode:  # once committed, git must keep the executable bit
        assert mode[0] == "100755"


@pytest.mark.parametrize("args, exit_code, says", [
    ([], 2, "usage"),
    (["nonsense"], 2, "unknown role"),
    (["migrate", "extra"], 2, "takes no arguments"),
])
def test_the_entrypoint_refuses_what_it_does_not_know(args, exit_code, says):
    result = subprocess.run(["sh", str(ENTRYPOINT_SCRIPT), *args], capture_output=True, text=True)
    assert result.returncode == exit_code and says in result.stderr


def test_the_image_exposes_the_ports_the_code_listens_on():
    assert exposed_ports() == {GATEWAY_DEFAULT_PORT, CUSTOMER_SERVICE_DEFAULT_PORT, IDENTIFIER_SERVICE_DEFAULT_PORT,
                               PROCESSOR_GRPC_DEFAULT_PORT, GATEWAY_ADMIN_DEFAULT_PORT, DASHBOARD_DEFAULT_PORT}


def test_multi_stage_slim_runtime_without_compilers():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert stages[-1][0] == ("FROM", "python:3.11-slim AS runtime")
    python_tags = {re.match(r"python:(\d+\.\d+)", args).group(1) for stage in stages for kw, args in stage if kw == "FROM"}
    assert python_tags == {"3.11"}, "wheels built in the builder must match the runtime's Python"
    final_runs = " ".join(args for kw, args in final_stage() if kw == "RUN")
    for word in ("apt-get", "apk ", "gcc", "build-essential", "pip wheel"):
        assert word not in final_runs, f"the runtime stage must not install {word!r}"
    assert "--no-index" in final_runs, "the runtime installs the builder's wheels only"


def test_the_runtime_installs_pinned_runtime_dependencies():
    builder_runs = " ".join(args for stage in dockerfile_stages()[:-1] for kw, args in stage if kw == "RUN")
    assert "--constraint requirements.lock" in builder_runs
    assert "['project']['dependencies']" in builder_runs, "runtime dependencies only, no dev tools"


def test_non_root_fixed_uid():
    users = [args for kw, args in final_stage() if kw == "USER"]
    assert users == ["10001:10001"]
    runs = " ".join(args for kw, args in final_stage() if kw == "RUN")
    assert "--uid 10001" in runs and "--gid 10001" in runs


def test_entrypoint_and_healthcheck_are_copied_where_they_are_used():
    final_copies = copies(final_stage())
    assert image_entrypoint() == [final_copies["deploy/entrypoint.sh"]]
    assert "deploy/healthcheck.py" in final_copies


def test_the_builder_copies_every_package_the_roles_import_and_no_dev_tooling():
    modules = code().closure(module for role in ROLES for module in role_modules(role))
    packages = {module.split(".")[0] for module in modules}
    builder_copies = {source for stage in dockerfile_stages()[:-1] for source in copies(stage)}
    assert packages <= builder_copies, f"not copied into the image: {sorted(packages - builder_copies)}"
    assert not {"devstack", "bench", "tests"} & packages, "a process imports development tooling"
    assert not {"devstack", "bench", "tests"} & builder_copies


def test_the_wheel_carries_every_data_file_of_the_copied_packages():
    """The image installs the project's wheel, which holds a package's .py files and only the other files
    [tool.setuptools.package-data] matches (migrations, the dashboard's templates and static files)."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    builder_copies = {source for stage in dockerfile_stages()[:-1] for source in copies(stage)}
    left_out = []
    for package in sorted(builder_copies - {"pyproject.toml", "requirements.lock", "."}):
        for path in (ROOT / package).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".py", ".pyc"}:
                continue
            if not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
                left_out.append(str(path.relative_to(ROOT)))
    assert not left_out, f"not in the wheel, so not in the image: {left_out}"
    for needed in ("dashboard/templates", "dashboard/static", "dashboard/migrations"):
        assert any((ROOT / needed).iterdir()), needed


def test_dockerignore_keeps_out_what_it_should_and_nothing_that_is_copied():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for must in (".git", ".venv", ".run", "bench"):
        assert must in patterns
    sources = {source for stage in dockerfile_stages() for source in copies(stage)}
    for source in sources:
        parts = source.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        hit = [p for p in patterns if any(fnmatch.fnmatch(prefix, p) for prefix in prefixes)]
        assert not hit, f"{source} is copied by the Dockerfile but excluded by .dockerignore {hit}"


def test_dockerfile_text_mentions_no_secret():
    text = DOCKERFILE.read_text()
    assert "GATEWAY_ENCRYPTION_KEYS" not in text and "PASSWORD" not in text.upper()
