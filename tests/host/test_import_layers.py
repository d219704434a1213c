"""DESIGN style 13, read from the source: lower layers never import upper ones
(at module level or inside a function). The TCP receive files are layered
tcp_minisocks < tcp_input < tcp_ipv4; the upward calls go through
tcp_minisocks.ops, filled at import by the files above."""
import ast
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "ksock")


def _graph():
    """{module: set of ksock modules it imports anywhere in its source}."""
    g = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, os.path.join(ROOT, ".."))[:-3].replace(os.sep, ".")
            mod = rel[:-9] if rel.endswith(".__init__") else rel
            deps = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    deps.add(node.module)
                    deps.update(node.module + "." + a.name for a in node.names)  # from pkg import mod
            g[mod] = {x for x in deps if x.startswith("ksock")}
    for m in g:
        g[m] &= set(g)
    return g


def _reach(g, a):
    seen, todo = set(), [a]
    while todo:
        for n in g.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_imports_tcp_minisocks_input_ipv4_layered_no_circle():
    g = _graph()
    p = "ksock.net.ipv4."
    assert p + "tcp_minisocks" in g and p + "tcp_ipv4" in g
    below = {"tcp_minisocks": ("tcp_input", "tcp_ipv4"), "tcp_input": ("tcp_ipv4",)}
    for low, highs in below.items():
        r = _reach(g, p + low)
        for h in highs:
            assert p + h not in r, "%s reaches %s through its imports" % (low, h)
    assert p + "tcp_minisocks" in g[p + "tcp_input"] and p + "tcp_input" in g[p + "tcp_ipv4"]
