"""Which environment variables the code reads, found by reading the source: no import, no environment.

A read is a literal name given to `os.environ` (`.get`, `[...]`, `.setdefault`, `in`) or `os.getenv`,
or to a *config helper*: a function that passes one of its parameters on as the name of a read. The
helpers are discovered, not listed: `env_str(name, ...)` in common/config.py reads `os.environ.get(name)`,
so `env_str` is one; `grpc_address(name, ...)` calls `env_str(name, ...)`, so it is one too; and
`ServiceSettings.from_env(prefix, ...)` reads `env_int(f"{prefix}_POOL_MIN", ...)`, so a call
`from_env("CUSTOMER_SERVICE", ...)` reads CUSTOMER_SERVICE_POOL_MIN (the f-string is a template). A
name may also be a module constant (`ENV_VAR = "GATEWAY_ENCRYPTION_KEYS"`), another module's constant
(`encryption_keys.ENV_VAR`), a field whose values the module spells out as `env_var="..."` keywords, or a
loop variable over a literal tuple or list of such names (`for name in (CA_ENV, CERT_ENV, KEY_ENV)`, in a
statement or a comprehension). Anything else is reported as unresolved, so a read this cannot follow is noticed instead of missed.

Reads are attributed to the module that spells the name, and a process reads what the modules it
imports (transitively) read: an over-approximation at module granularity, which is right for "is this
variable read by that process at all".
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The packages that run in the image (cli too: the image's `cli` role).
PACKAGES = ("common", "gateway", "processor", "customer_service", "identifier_service", "gateway_admin", "dashboard",
            "cli", "autentikapp")

_ENVIRON_METHODS = {"get", "setdefault", "pop"}


@dataclass(frozen=True)
class Read:
    """One environment variable read: its name, and where the name is spelled."""

    name: str
    module: str
    line: int


@dataclass
class Scan:
    """The result: every read, the reads that could not be resolved, and the import graph."""

    reads: list[Read] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    imports: dict[str, set[str]] = field(default_factory=dict)
    helpers: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Every variable name the scanned code reads."""
        return {read.name for read in self.reads}

    def closure(self, entry_modules: Iterable[str]) -> set[str]:
        """The modules a process loads: the entry modules and everything they import, with parent packages."""
        seen: set[str] = set()
        todo = list(entry_modules)
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            if module not in self.imports:
                raise KeyError(f"no module {module} under {ROOT}")
            seen.add(module)
            todo.extend(self.imports[module])
        return seen

    def names_read_by(self, entry_modules: Iterable[str]) -> set[str]:
        """The variables a process whose entry points are `entry_modules` may read."""
        modules = self.closure(entry_modules)
        return {read.name for read in self.reads if read.module in modules}


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    constants: dict[str, str]
    field_values: dict[str, set[str]]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _load(root: Path, packages: Iterable[str]) -> dict[str, _Module]:
    modules: dict[str, _Module] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name, is_package = _module_name(path, root)
            tree = ast.parse(path.read_text(), filename=str(path))
            constants = {
                target.id: node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            field_values: dict[str, set[str]] = defaultdict(set)
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Constant) \
                        and isinstance(node.value.value, str):
                    field_values[node.arg].add(node.value.value)
            modules[name] = _Module(name, path, tree, is_package, constants, field_values)
    return modules


def _imports(module: _Module, known: set[str]) -> set[str]:
    """The project modules `module` imports (anywhere in it, functions included), with parent packages."""
    found: set[str] = set()

    def add(name: str) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate in known:
                found.add(candidate)

    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            add(source)
            for alias in node.names:
                add(f"{source}.{alias.name}")
    found.discard(module.name)
    return found


def _callee(node: ast.Call) -> str | None:
    """The simple name of what is called: `f(...)` -> f, `a.b.f(...)` -> f."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _env_key(node: ast.AST) -> ast.AST | None:
    """The expression naming the variable when `node` reads the environment directly."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _ENVIRON_METHODS and _is_environ(func.value) \
                and node.args:
            return node.args[0]
        if (isinstance(func, ast.Attribute) and func.attr == "getenv" and isinstance(func.value, ast.Name)
                and func.value.id == "os" and node.args):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
            and _is_environ(node.comparators[0]):
        return node.left
    return None


@dataclass
class _Scope:
    """A function (or the module body): its own statements, its parameter positions, and its loop variables
    that run over a literal tuple or list (name -> the elements)."""

    module: _Module
    qualname: str
    nodes: list[ast.AST]
    params: dict[str, int]
    loops: dict[str, list[ast.AST]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.nodes:
            if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(node.target, ast.Name) \
                    and isinstance(node.iter, (ast.Tuple, ast.List)):
                self.loops.setdefault(node.target.id, []).extend(node.iter.elts)


def _scopes(module: _Module) -> list[_Scope]:
    """The module body and every function in it, each with only its own nodes (not nested functions')."""
    scopes: list[_Scope] = []

    def own_nodes(body: list[ast.stmt]) -> list[ast.AST]:
        out: list[ast.AST] = []
        todo: list[ast.AST] = list(body)
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            out.append(node)
            todo.extend(ast.iter_child_nodes(node))
        return out

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                scopes.append(_Scope(module, f"{prefix}{node.name}", own_nodes(node.body), {}))
                visit(node.body, f"{prefix}{node.name}.", True)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                positional = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
                decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
                if in_class and "staticmethod" not in decorators and positional:
                    positional = positional[1:]  # self / cls: not passed at the call site
                params = {name: i for i, name in enumerate(positional)}
                params.update({a.arg: -1 for a in node.args.kwonlyargs})
                scopes.append(_Scope(module, f"{prefix}{node.name}", own_nodes(node.body), params))
                visit(node.body, f"{prefix}{node.name}.", False)
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child], prefix, in_class)

    scopes.append(_Scope(module, "<module>", own_nodes(module.tree.body), {}))
    visit(module.tree.body, "", False)
    return scopes


class _Resolver:
    """Turns the expression that names a variable into names, helper templates or 'unresolved'."""

    def __init__(self, modules: dict[str, _Module]):
        self.modules = modules
        self.by_alias: dict[str, dict[str, str]] = {}
        for module in modules.values():
            aliases: dict[str, str] = {}
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for alias in node.names:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        aliases[alias.asname or alias.name.split(".")[0]] = alias.name
            self.by_alias[module.name] = aliases

    def resolve(self, scope: _Scope, node: ast.AST) -> tuple[list[str], list[tuple[str, str]], bool]:
        """(names, [(parameter, template)], resolved?) for the expression `node` inside `scope`."""
        module = scope.module
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value], [], True
        if isinstance(node, ast.Name):
            if node.id in scope.params:
                return [], [(node.id, "{}")], True
            if node.id in scope.loops and node.id not in module.constants:
                results = [self.resolve(scope, element) for element in scope.loops[node.id]]
                return ([name for names, _, _ in results for name in names], [],
                        all(ok and not templates for _, templates, ok in results))
            if node.id in module.constants:
                return [module.constants[node.id]], [], True
            target = self.by_alias[module.name].get(node.id, "")
            owner, _, const = target.rpartition(".")
            if owner in self.modules and const in self.modules[owner].constants:
                return [self.modules[owner].constants[const]], [], True
            return [], [], False
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name):
                owner = self.by_alias[module.name].get(node.value.id, "")
                if owner in self.modules and node.attr in self.modules[owner].constants:
                    return [self.modules[owner].constants[node.attr]], [], True
            values = sorted(module.field_values.get(node.attr, ()))
            return values, [], bool(values)
        if isinstance(node, ast.JoinedStr):
            params = [v.value.id for v in node.values if isinstance(v, ast.FormattedValue)
                      and isinstance(v.value, ast.Name)]
            parts = [v for v in node.values if isinstance(v, ast.FormattedValue)]
            if len(parts) == 1 and len(params) == 1 and params[0] in scope.params:
                template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                return [], [(params[0], template)], True
        return [], [], False


def scan(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Scan:
    """Read the packages' sources and collect every environment variable they read."""
    modules = _load(root, packages)
    result = Scan(imports={name: _imports(module, set(modules)) for name, module in modules.items()})
    resolver = _Resolver(modules)
    scopes = [scope for module in modules.values() for scope in _scopes(module)]
    # helper simple name -> [(parameter position, keyword, template)]: the callee reads template % arg
    helpers: dict[str, set[tuple[int, str, str]]] = defaultdict(set)

    def name_args(scope: _Scope, node: ast.AST):
        """(expression, template) pairs: each expression in `node` that names a variable read."""
        key = _env_key(node)
        if key is not None:
            yield key, "{}"
        if isinstance(node, ast.Call):
            for position, keyword, template in helpers.get(_callee(node) or "", ()):
                if 0 <= position < len(node.args) and not isinstance(node.args[position], ast.Starred):
                    yield node.args[position], template
                for kw in node.keywords:
                    if kw.arg == keyword:
                        yield kw.value, template

    changed = True
    while changed:  # discover helpers until none is new (helpers calling helpers)
        changed = False
        for scope in scopes:
            for node in scope.nodes:
                for expr, outer in name_args(scope, node):
                    _, templates, _ = resolver.resolve(scope, expr)
                    for param, inner in templates:
                        entry = (scope.params[param], param, outer.replace("{}", inner))
                        simple = scope.qualname.rpartition(".")[2]
                        if entry not in helpers[simple]:
                            helpers[simple].add(entry)
                            changed = True

    for scope in scopes:
        for node in scope.nodes:
            for expr, template in name_args(scope, node):
                names, _, resolved = resolver.resolve(scope, expr)  # parameters: resolved at call sites
                where = f"{scope.module.path.relative_to(root)}:{getattr(expr, 'lineno', '?')}"
                if not resolved:
                    result.unresolved.append(f"{where}: {ast.unparse(expr)}")
                for name in names:
                    result.reads.append(Read(template.replace("{}", name), scope.module.name, expr.lineno))
    result.helpers = {name: sorted(entries) for name, entries in helpers.items()}
    return result
