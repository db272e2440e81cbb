#!/usr/bin/env python3
"""Mutation testing of the pure-logic core: mutmut, the score per module, the survivors.

What is mutated and which tests run is configured in pyproject.toml's [tool.mutmut]. Mutants
recorded as equivalent in scripts/mutation-equivalents.toml (no input can tell them from the
original) leave the denominator; every other survivor is listed with its diff, because it is
either a missing test or a new equivalent to record with its reason. docs/testing.md explains
when to run this and how to read the report.

    scripts/mutation.py                                 a clean run, then the report
    scripts/mutation.py --only 'services.ingest.windows.*'   one module's mutants only
    scripts/mutation.py --report                        the report of the last run again
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = Path(__file__).resolve().parent / "mutation-equivalents.toml"
# mutmut's `mutmut show` name: module, then the mangled function (x_name, or xǁClassǁname).
MUTANT_NAME = re.compile(r"^(?P<module>[\w.]+)\.(?P<function>xǁ?[^.]+)__mutmut_(?P<n>\d+)$")
# A timeout is a mutant the tests noticed (it hung them), so it counts as killed.
KILLED = {"killed", "timeout"}


@dataclass(frozen=True, slots=True)
class Change:
    """The lines a mutant replaced, stripped: what an equivalents entry names."""

    was: str
    now: str


@dataclass(frozen=True, slots=True)
class Equivalent:
    mutant: str
    change: Change
    reason: str


def run_mutmut(jobs: int, only: list[str]) -> None:
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        sys.exit(
            "mutmut is not installed beside this Python: run .venv/bin/python scripts/mutation.py"
            " after .venv/bin/pip install -e '.[mutation]'"
        )
    # A clean run: mutmut 3 keeps results of functions it thinks unchanged, but a changed test
    # or a renumbered mutant can leave a stale verdict behind.
    shutil.rmtree(MUTANTS, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run(
        [str(mutmut), "run", "--max-children", str(jobs), *only],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"mutmut run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    print(f"mutmut ran {time.monotonic() - started:.0f} s with {jobs} jobs\n")


def statuses() -> dict[str, str]:
    """Every mutant's status from `mutmut results --all true` ("    name: status" lines)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and MUTANT_NAME.match(name):
            found[name] = status
    if not found:
        sys.exit("no mutants found: run scripts/mutation.py without --report first")
    return found


class Sources:
    """Original and mutated function texts, read from the files mutmut generated in mutants/."""

    def __init__(self) -> None:
        self._functions: dict[str, dict[str, str]] = {}

    def _of(self, module: str) -> dict[str, str]:
        if module not in self._functions:
            path = MUTANTS / (module.replace(".", "/") + ".py")
            text = path.read_text("utf-8")
            lines = text.splitlines()
            # By line numbers: ast.get_source_segment splits the whole file on every call.
            self._functions[module] = {
                node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
                for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        return self._functions[module]

    def _lines(self, module: str, function: str, suffix: str) -> list[str]:
        text = self._of(module)[f"{function}__mutmut_{suffix}"]
        return text.replace(f"{function}__mutmut_{suffix}", function).splitlines()

    def diff(self, name: str) -> list[str]:
        m = MUTANT_NAME.match(name)
        assert m is not None
        module, function, n = m["module"], m["function"], m["n"]
        return list(
            difflib.unified_diff(
                self._lines(module, function, "orig"),
                self._lines(module, function, n),
                lineterm="",
                n=1,
            )
        )[2:]

    def change(self, name: str) -> Change:
        lines = self.diff(name)
        was = [line[1:].strip() for line in lines if line.startswith("-")]
        now = [line[1:].strip() for line in lines if line.startswith("+")]
        return Change("\n".join(was), "\n".join(now))


def load_equivalents() -> list[Equivalent]:
    if not EQUIVALENTS.exists():
        return []
    data = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    return [
        Equivalent(e["mutant"], Change(e["was"].strip(), e["now"].strip()), e["reason"])
        for e in data.get("equivalent", [])
    ]


def function_of(name: str) -> str:
    m = MUTANT_NAME.match(name)
    assert m is not None
    return f"{m['module']}.{m['function']}"


def report(target: float, only: list[str]) -> bool:
    """Print the table and what needs a look; True when every module reaches `target` %."""
    status = {
        name: state
        for name, state in statuses().items()
        if not only or any(fnmatch.fnmatchcase(name, pattern) for pattern in only)
    }
    sources = Sources()
    # Equivalents are matched by function and changed lines, not by number, so an edit that
    # renumbers a function's mutants does not silently excuse a different one.
    by_function: dict[str, list[str]] = defaultdict(list)
    for name in status:
        by_function[function_of(name)].append(name)
    equivalent: dict[str, Equivalent] = {}
    stale: list[tuple[Equivalent, str]] = []
    for entry in load_equivalents():
        if only and not any(fnmatch.fnmatchcase(entry.mutant, pattern) for pattern in only):
            continue
        if not MUTANT_NAME.match(entry.mutant):
            stale.append((entry, "not a mutant name"))
            continue
        matches = [
            name
            for name in by_function.get(function_of(entry.mutant), [])
            if sources.change(name) == entry.change
        ]
        if not matches:
            stale.append((entry, "no mutant makes this change any more"))
        for name in matches:
            if status[name] in KILLED:
                stale.append((entry, f"{name} is killed: it was not equivalent"))
            else:
                equivalent[name] = entry

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    open_survivors: list[str] = []
    for name, state in sorted(status.items(), key=lambda item: natural(item[0])):
        module = MUTANT_NAME.match(name)["module"]  # type: ignore[index]
        counts[module]["mutants"] += 1
        if state in KILLED:
            counts[module]["killed"] += 1
        elif name in equivalent:
            counts[module]["equivalent"] += 1
        elif state == "no tests":
            counts[module]["not reached"] += 1
            open_survivors.append(name)
        else:
            counts[module]["survived"] += 1
            open_survivors.append(name)

    columns = ("mutants", "killed", "equivalent", "survived", "not reached")
    print(f"| module | {' | '.join(columns)} | score |")
    print(f"|---|{'---|' * len(columns)}---|")
    passed = True
    total: Counter[str] = Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        score = 100.0 * c["killed"] / max(1, c["mutants"] - c["equivalent"])
        passed &= score >= target
        print(f"| {module} | {' | '.join(str(c[k]) for k in columns)} | {score:.1f} % |")
    score = 100.0 * total["killed"] / max(1, total["mutants"] - total["equivalent"])
    print(f"| all | {' | '.join(str(total[k]) for k in columns)} | {score:.1f} % |")

    if open_survivors:
        print(f"\n{len(open_survivors)} survivors need a look (a test, or an equivalents entry):")
        for name in open_survivors:
            print(f"\n{name}: {status[name]}")
            print("\n".join("    " + line for line in sources.diff(name)))
    if stale:
        print(f"\n{len(stale)} entries of {EQUIVALENTS.name} no longer hold:")
        for entry, why in stale:
            print(f"  {entry.mutant}: {why}")
    verdict = "reaches" if passed else "misses"
    print(f"\nEvery module {verdict} the {target:g} % target.")
    return passed and not stale


def natural(name: str) -> tuple[str, int]:
    m = MUTANT_NAME.match(name)
    return (name, 0) if m is None else (f"{m['module']}.{m['function']}", int(m["n"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", action="store_true", help="report the last run, do not run")
    parser.add_argument("--target", type=float, default=90.0, help="per-module score, %%")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="only mutants whose name matches, e.g. 'services.ingest.windows.*' (repeatable)",
    )
    args = parser.parse_args()
    if not args.report:
        run_mutmut(args.jobs, args.only)
    sys.exit(0 if report(args.target, args.only) else 1)


if __name__ == "__main__":
    main()
