"""How a cell of model-written code is checked and compiled.

RestrictedPython 9 does the checking; `CellTransformer` extends its policy so that code models
commonly write compiles anyway, rewritten into guarded forms:

- `d[k] += 1` and `obj.n += 1`  -> `_aug_item_(d, k, "+=", 1)` / `_aug_attr_(obj, "n", "+=", 1)`
- `x: int = 1`                  -> an annotated assignment whose target name is checked
- `match` statements            -> allowed, with class-pattern attribute names checked
- `nonlocal x`                  -> allowed (names are checked like any other)
- every `except` clause         -> first re-raises the sandbox's own stop signals (timeout,
                                   interrupt, FINAL, output flood), so model code cannot
                                   swallow them with `except BaseException:`
- a bare expression as the last statement is shown, as in a notebook

What stays forbidden gets one line: `Line N: <reason>`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import CodeType

from RestrictedPython import compile_restricted_exec
from RestrictedPython.transformer import (
    ALLOWED_FUNC_NAMES,
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

# Dunder methods a model's class may define besides RestrictedPython's own short list. Each is
# still restricted code when Python calls it; `__exit__` (which could swallow stop signals),
# `__del__` (runs outside a cell) and attribute hooks stay forbidden.
EXTRA_DUNDER_METHODS = frozenset(
    {
        "__repr__", "__str__", "__len__", "__iter__", "__next__", "__getitem__",
        "__hash__", "__bool__", "__add__", "__radd__", "__sub__", "__mul__", "__call__",
    }
)

# Attribute names that are never read, on top of RestrictedPython's own list: `obj` on an
# AttributeError leaks the object looked at (CVE-2024-47532); `format`/`format_map` on str
# resolve fields with unguarded getattr (CVE-2023-41039, CVE-2026-76825).
EXTRA_FORBIDDEN_ATTRIBUTES = frozenset({"obj", "format", "format_map"})


@dataclass(frozen=True)
class CompiledCell:
    code: CodeType | None
    error: str | None  # one line per problem, "Line N: reason"
    kind: str = "refused"  # "syntax": not Python at all; "refused": Python the sandbox forbids


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


class CellTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, extended to accept common model code in safe forms."""

    def check_name(self, node, name, allow_magic_methods=False):  # type: ignore[override]
        if (
            allow_magic_methods
            and name in EXTRA_DUNDER_METHODS
            and getattr(node, "col_offset", 0) != 0
        ):
            return
        super().check_name(node, name, allow_magic_methods)

    # -- augmented assignment of items and attributes -------------------------------------

    def visit_AugAssign(self, node: ast.AugAssign):
        target = node.target
        if isinstance(target, ast.Name):
            return super().visit_AugAssign(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        if isinstance(target, ast.Attribute):
            self._check_attribute_name(target, target.attr)
            obj = self.visit(target.value)
            value = self.visit(node.value)
            call = ast.Call(
                func=_name("_aug_attr_"),
                args=[obj, ast.Constant(target.attr), op, value],
                keywords=[],
            )
        else:  # ast.Subscript
            obj = self.visit(target.value)
            key = self._slice_to_expr(target.slice)
            value = self.visit(node.value)
            call = ast.Call(func=_name("_aug_item_"), args=[obj, key, op, value], keywords=[])
        new = ast.Expr(value=call)
        copy_locations(new, node)
        ast.fix_missing_locations(new)
        return new

    def _slice_to_expr(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Slice):
            parts = [self.visit(p) if p is not None else ast.Constant(None)
                     for p in (node.lower, node.upper, node.step)]
            return ast.Call(func=_name("slice"), args=parts, keywords=[])
        if isinstance(node, ast.Tuple):
            return ast.Tuple(elts=[self._slice_to_expr(e) for e in node.elts], ctx=ast.Load())
        return self.visit(node)

    def _check_attribute_name(self, node: ast.AST, attr: str) -> None:
        if attr.startswith("_"):
            self.error(node, f'"{attr}" is an invalid attribute name because it starts with "_".')
        elif attr in INSPECT_ATTRIBUTES or attr in EXTRA_FORBIDDEN_ATTRIBUTES:
            self.error(node, f'"{attr}" is a restricted name that cannot be used here.')

    # -- annotated assignment ------------------------------------------------------------

    def visit_AnnAssign(self, node: ast.AnnAssign):
        if isinstance(node.target, ast.Name):
            self.check_name(node, node.target.id)
            # Keep the annotation (dataclass and NamedTuple fields need it), guarded as code.
            node.annotation = self.visit(node.annotation)
            if node.value is not None:
                node.value = self.visit(node.value)
            return node
        if node.value is None:  # `obj.x: int` declares nothing at run time
            new = ast.Pass()
        else:
            new = ast.Assign(targets=[node.target], value=node.value)
        copy_locations(new, node)
        return self.visit(new)

    # -- exception handlers re-raise the sandbox's stop signals --------------------------

    def visit_ExceptHandler(self, node: ast.ExceptHandler):
        node = super().visit_ExceptHandler(node)
        check = ast.Expr(value=ast.Call(func=_name("_abort_check_"), args=[], keywords=[]))
        copy_locations(check, node)
        ast.fix_missing_locations(check)
        node.body.insert(0, check)
        return node

    def visit_Try(self, node: ast.Try):
        # `return`, `break` or `continue` leaving a `finally` block discards the exception in
        # flight, the sandbox's own stop signals included (PEP 765 deprecates it for good).
        for stmt in node.finalbody:
            for bad in _exits_finally(stmt, in_loop=False):
                self.error(bad, f"'{_KEYWORD[type(bad)]}' inside 'finally' is not allowed: "
                                "it would swallow exceptions, the sandbox's timeout included")
        return super().visit_Try(node)

    def visit_Nonlocal(self, node: ast.Nonlocal):
        for name in node.names:
            self.check_name(node, name)
        return node

    # -- match statements ----------------------------------------------------------------

    def visit_Match(self, node: ast.Match):
        return self.node_contents_visit(node)

    def visit_match_case(self, node: ast.match_case):
        return self.node_contents_visit(node)

    def visit_MatchValue(self, node):
        return self.node_contents_visit(node)

    def visit_MatchSingleton(self, node):
        return self.node_contents_visit(node)

    def visit_MatchSequence(self, node):
        return self.node_contents_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar):
        self.check_name(node, node.name)
        return self.node_contents_visit(node)

    def visit_MatchMapping(self, node: ast.MatchMapping):
        self.check_name(node, node.rest)
        return self.node_contents_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass):
        # Class patterns read attributes without going through the getattr guard, so the
        # names are checked here instead.
        for attr in node.kwd_attrs:
            self._check_attribute_name(node, attr)
        if node.patterns:
            # Positional sub-patterns read the names in the class's __match_args__, which we
            # cannot see at compile time: allow them only on builtin self-matching types,
            # looked up where model code cannot rebind them (`list = Evil` would otherwise do).
            if not (isinstance(node.cls, ast.Name) and node.cls.id in SELF_MATCHING_TYPES):
                self.error(
                    node,
                    "positional patterns in class patterns are not allowed; "
                    "use keyword patterns like Point(x=0).",
                )
            else:
                cls = ast.Attribute(value=_name("_match_types_"), attr=node.cls.id,
                                    ctx=ast.Load())
                copy_locations(cls, node.cls)
                ast.fix_missing_locations(cls)
                node = self.node_contents_visit(node)
                node.cls = cls
                return node
        return self.node_contents_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs):
        self.check_name(node, node.name)
        return self.node_contents_visit(node)

    def visit_MatchOr(self, node):
        return self.node_contents_visit(node)

    # -- the module: show the value of a last bare expression ----------------------------

    def visit_Module(self, node: ast.Module):
        node = super().visit_Module(node)
        if node.body and isinstance(node.body[-1], ast.Expr):
            last = node.body[-1]
            if not _is_print_call(last.value):
                call = ast.Call(func=_name("_display_"), args=[last.value], keywords=[])
                new = ast.Expr(value=call)
                copy_locations(new, last)
                ast.fix_missing_locations(new)
                node.body[-1] = new
        return node


SELF_MATCHING_TYPES = frozenset(
    {"bool", "bytearray", "bytes", "dict", "float", "frozenset", "int", "list", "set", "str",
     "tuple"}
)


_KEYWORD = {ast.Return: "return", ast.Break: "break", ast.Continue: "continue"}


def _exits_finally(node: ast.AST, in_loop: bool):
    """The return/break/continue statements under `node` that would leave a finally block."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return
    if isinstance(node, ast.Return) or (isinstance(node, (ast.Break, ast.Continue))
                                        and not in_loop):
        yield node
        return
    loop = isinstance(node, (ast.For, ast.While, ast.AsyncFor))
    for child in ast.iter_child_nodes(node):
        # a loop's `else` clause is outside the loop for break/continue
        inside = in_loop or (loop and child not in getattr(node, "orelse", []))
        yield from _exits_finally(child, inside)


def _is_print_call(node: ast.expr) -> bool:
    # After RestrictedPython's transform, print(...) is `_print._call_print(...)`.
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_call_print"
    )


# Names the model may not bind because the sandbox's guards live under them; RestrictedPython
# already refuses any name starting with "_", this list documents why that matters.
GUARD_NAMES = ("_getattr_", "_getitem_", "_getiter_", "_write_", "_print_", "_inplacevar_",
               "_apply_", "_unpack_sequence_", "_iter_unpack_sequence_", "_aug_attr_",
               "_aug_item_", "_abort_check_", "_display_", "_match_types_")

assert all(n.startswith("_") for n in GUARD_NAMES)
assert "__init__" in ALLOWED_FUNC_NAMES


def compile_cell(source: str, filename: str) -> CompiledCell:
    """Check and compile one cell; on refusal, return one line per problem."""
    try:
        tree = ast.parse(source, filename=filename, mode="exec")
    except SyntaxError as exc:
        where = f"Line {exc.lineno}: " if exc.lineno else ""
        return CompiledCell(None, f"{where}SyntaxError: {exc.msg}", "syntax")
    except (ValueError, MemoryError, RecursionError) as exc:
        return CompiledCell(None, f"{type(exc).__name__}: the cell could not be parsed ({exc})")
    try:
        # dont_inherit: RestrictedPython's own `from __future__ import annotations` would
        # otherwise turn every annotation in a cell into a string that library code may eval.
        result = compile_restricted_exec(tree, filename=filename, dont_inherit=True,
                                         policy=CellTransformer)
    except (RecursionError, MemoryError) as exc:
        return CompiledCell(None, f"{type(exc).__name__}: the cell is too deeply nested to compile")
    if result.errors:
        lines = [e.strip() for e in result.errors]
        return CompiledCell(None, "\n".join(dict.fromkeys(lines)))
    return CompiledCell(result.code, None)
