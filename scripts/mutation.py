"""Mutation testing of the wrapper: `make mutation [MODULES=core|clients|wrapper|bulk|<module>...]`.

mutmut 3 names a mutant after its file's path and strips only a leading `src.`; run from the
repository root, wrapper/sequence_clients/_plan.py would be `wrapper.sequence_clients._plan`,
which no test imports, and every mutant would count as untested. So mutmut runs in
build/mutation/, a tree that links src/ to wrapper/ (and tests/, generated/ to theirs), with a
pyproject.toml holding the project's [tool.mutmut] and [tool.pytest.ini_options], narrowed to
the modules asked for. The folders of the design stay where they are; mutants/ lives under
build/ and never touches the tree.

Prints the score per module and each survivor with its diff. Mutants that no test can tell
apart from the original are listed with the reason in tests/mutation/equivalent.toml and leave
the denominator. Exits 1 when a module scores below its floor (90%; 85% for the bulk engine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MUTATION_STAGE lets two runs (say, core and the bulk engine) go side by side, each in its own
# tree with its own mutants/.
STAGE = Path(os.environ.get("MUTATION_STAGE", ROOT / "build" / "mutation")).resolve()
PACKAGE = "src/sequence_clients"
EQUIVALENT_FILE = ROOT / "tests" / "mutation" / "equivalent.toml"

# What each MODULES word means: the files mutated and the tests run against them.
# tests/golden holds the exact wording of the messages (the others assert attributes).
# tests/telemetry/test_traces_and_metrics.py checks what each attempt records (status, error
# type, duration) in process; the rest of tests/telemetry starts processes and kills nothing.
FAST_TESTS = [
    "tests/wrapper",
    "tests/golden",
    "tests/replay",
    "tests/telemetry/test_traces_and_metrics.py",
]
GROUPS: dict[str, list[str]] = {
    "core": [
        "_plan",
        "_pipeline",
        "_clock",
        "_pagination",
        "_validate",
        "_transport",
        "errors",
        "oauth",
        "token_stores",
    ],
    "clients": ["unify", "boast", "_common"],
    "bulk": ["bulk/engine", "bulk/journal", "bulk/rows"],
}
GROUPS["wrapper"] = GROUPS["core"] + GROUPS["clients"]
# The bulk engine lived in cli/ until issue 26; `MODULES=cli` still names it.
ALIASES = {"cli": "bulk"}
# The bulk engine's in-process tests. The CLI tests that run `sequence-clients` as a subprocess
# import the unmutated package in the child, so they can kill no mutant and only cost time.
TESTS_FOR_GROUP = {
    "bulk": [
        "tests/bulk/test_engine.py",
        "tests/bulk/test_rows.py",
        "tests/bulk/test_journal.py",
        "tests/bulk/test_outcomes.py",
        "tests/bulk/test_campaign.py",
        "tests/bulk/test_preview.py",
        "tests/cli/test_cli_bulk.py",
        "tests/cli/test_cli_unify.py",
        "tests/cli/test_cli_boast.py",
        "tests/cli/test_bulk_campaign.py",  # undo, pause and resume through the CLI, in process
        # The wording of the engine's messages is held there only.
        "tests/golden/test_messages.py",
    ]
}
# The shared Boast grant (issue 20) is tested in tests/oauth, in process; its tests that start
# other processes or run the CLI kill no mutant there, so they stay out.
GRANT_TESTS = [
    "tests/oauth/test_token_stores.py",
    "tests/oauth/test_one_grant_in_a_process.py",
    "tests/oauth/test_refresh_deadline.py",
    "tests/oauth/test_revoked_grant.py",
    "tests/telemetry/test_token_refresh.py",  # what a refresh, a wait, a revocation records
]
TESTS_FOR_MODULE = {"oauth": GRANT_TESTS, "token_stores": GRANT_TESTS}
FLOOR = {"bulk": 85.0}
DEFAULT_FLOOR = 90.0

KILLED = {"killed", "timeout", "caught by type check"}


def modules_for(words: list[str]) -> list[str]:
    modules: list[str] = []
    for word in words:
        for module in GROUPS.get(ALIASES.get(word, word), [word]):
            if not (ROOT / "wrapper" / "sequence_clients" / f"{module}.py").is_file():
                raise SystemExit(f"mutation: no module wrapper/sequence_clients/{module}.py")
            if module not in modules:
                modules.append(module)
    return modules


def tests_for(modules: list[str]) -> list[str]:
    tests: list[str] = []
    for module in modules:
        group = module.split("/")[0] if "/" in module else "wrapper"
        for path in [*TESTS_FOR_GROUP.get(group, FAST_TESTS), *TESTS_FOR_MODULE.get(module, [])]:
            if path not in tests:
                tests.append(path)
    return tests


def toml_value(value: object) -> str:
    # Strings, numbers, booleans and lists of them are all the two tables hold; JSON spells
    # them the way TOML does.
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def toml_table(name: str, table: dict[str, object]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {toml_value(v)}\n" for key, v in table.items())


def lay_out_stage(modules: list[str], *, source: Path, resume: bool) -> None:
    if not resume and (STAGE / "mutants").exists():
        shutil.rmtree(STAGE / "mutants")
    STAGE.mkdir(parents=True, exist_ok=True)
    for name, target in {"src": "wrapper", "tests": "tests", "generated": "generated"}.items():
        link = STAGE / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(source / target)
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    mutmut = dict(tool["mutmut"])
    mutmut["only_mutate"] = [f"{PACKAGE}/{module}.py" for module in modules]
    mutmut["pytest_add_cli_args_test_selection"] = tests_for(modules)
    (STAGE / "pyproject.toml").write_text(
        "# Written by scripts/mutation.py from the project's pyproject.toml; do not edit.\n"
        + toml_table("tool.mutmut", mutmut)
        + "\n"
        + toml_table("tool.pytest.ini_options", tool["pytest"]["ini_options"])
    )


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    status: str
    diff: str = ""

    @property
    def function(self) -> str:
        return self.name.partition("__mutmut_")[0]

    def changed_lines(self) -> tuple[list[str], list[str]]:
        lines = self.diff.splitlines()[2:]  # past the ---/+++ header
        removed = [x[1:].strip() for x in lines if x.startswith("-")]
        added = [x[1:].strip() for x in lines if x.startswith("+")]
        return removed, added


@dataclass(frozen=True)
class Equivalent:
    function: str
    removed: str
    added: str
    reason: str

    def matches(self, mutant: Mutant) -> bool:
        removed, added = mutant.changed_lines()
        return (
            mutant.function == self.function
            and " ".join(removed) == self.removed
            and " ".join(added) == self.added
        )


@dataclass
class ModuleScore:
    counts: Counter[str] = field(default_factory=Counter)
    equivalent: int = 0

    @property
    def killed(self) -> int:
        return sum(self.counts[status] for status in KILLED)

    @property
    def judged(self) -> int:
        # "not checked" is a run cut short; "skipped" is mutmut's own choice: neither says
        # anything about the tests.
        return sum(self.counts.values()) - self.counts["skipped"] - self.counts["not checked"]

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.judged if self.judged else 100.0


@dataclass(frozen=True)
class SqlCaseRule:
    """A mutant that only changes the letter case of SQL text: SQLite reads keywords, names and
    PRAGMA values alike in any case, so the statement is the same. A quoted literal
    ('in_flight') is case-sensitive: a mutant that changes one never matches; nor does any
    string without SQL in it (a message's case is something a user sees)."""

    modules: tuple[str, ...]
    reason: str
    _STRING = re.compile(r'"([^"\\]*)"')
    _QUOTED = re.compile(r"'[^']*'")
    _SQL = re.compile(
        r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|FROM|SET|AND|PRAGMA|BEGIN|COMMIT|ROLLBACK"
        r"|GROUP BY|ORDER BY|UNION ALL)\b",
        re.IGNORECASE,
    )

    def matches(self, mutant: Mutant) -> bool:
        removed, added = mutant.changed_lines()
        if mutant.module not in self.modules or len(removed) != 1 or len(added) != 1:
            return False
        before, after = removed[0], added[0]
        if before == after or before.lower() != after.lower():
            return False
        old, new = self._STRING.findall(before), self._STRING.findall(after)
        if len(old) != len(new) or self._STRING.sub('""', before) != self._STRING.sub('""', after):
            return False  # the change is outside the string literals
        changed = [(text, other) for text, other in zip(old, new, strict=True) if text != other]
        return all(
            self._SQL.search(text) and self._QUOTED.findall(text) == self._QUOTED.findall(other)
            for text, other in changed
        )


@dataclass(frozen=True)
class CastRule:
    """A mutant that only changes the first argument of `cast(...)`: typing.cast returns its
    second argument as it is, and the first (a type, or a type's name in quotes) is for mypy."""

    reason: str

    def matches(self, mutant: Mutant) -> bool:
        removed, added = mutant.changed_lines()
        if len(removed) != 1 or len(added) != 1:
            return False
        before, after = _cast_parts(removed[0]), _cast_parts(added[0])
        return before is not None and after is not None and before[::2] == after[::2]


def _cast_parts(line: str) -> tuple[str, str, str] | None:
    """`line` cut around its cast's first argument: (up to `cast(`, the argument, the rest from
    the comma after it), or None without one cast call."""
    calls = list(_CAST.finditer(line))
    if len(calls) != 1:
        return None
    head, tail = line[: calls[0].end()], line[calls[0].end() :]
    depth = 0
    for at, char in enumerate(tail):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            return head, tail[:at], tail[at:]
    return None


_CAST = re.compile(r"(?<!\w)cast\(")  # cast( or typing.cast(, not broadcast(
Rule = SqlCaseRule | CastRule


def load_equivalents() -> list[Equivalent | Rule]:
    table = tomllib.loads(EQUIVALENT_FILE.read_text())
    entries: list[Equivalent | Rule] = [Equivalent(**e) for e in table.get("mutant", [])]
    for rule in table.get("rule", []):
        if rule.get("name") == "sql-case":
            entries.append(SqlCaseRule(modules=tuple(rule["modules"]), reason=rule["reason"]))
        elif rule.get("name") == "typing-cast":
            entries.append(CastRule(reason=rule["reason"]))
        else:
            raise SystemExit(f"mutation: unknown rule {rule.get('name')!r} in {EQUIVALENT_FILE}")
    return entries


def read_results(modules: list[str], *, with_diffs: bool = True) -> list[Mutant]:
    """The verdicts mutmut left in mutants/*.meta, with each survivor's diff."""
    os.chdir(STAGE)  # mutmut reads its configuration from the working directory on import
    sys.path.insert(0, str(STAGE / "mutants" / "src"))
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    mutants: list[Mutant] = []
    for module in modules:
        source = Path(PACKAGE) / f"{module}.py"
        meta = Path("mutants") / f"{source}.meta"
        if not meta.exists():
            continue
        for name, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[exit_code]
            show = with_diffs and status not in KILLED
            diff = get_diff_for_mutant(name, path=source) if show else ""
            mutants.append(Mutant(name=name, module=module, status=status, diff=diff))
    return mutants


def survivors(modules: list[str]) -> list[str]:
    """The last run's mutants in `modules` that survived or that no test reached: mutmut
    collects stats for new tests first, so tests added for them take part."""
    found = read_results(modules, with_diffs=False)
    return [m.name for m in found if m.status in ("survived", "no tests")]


def report(modules: list[str], mutants: list[Mutant], equivalents: list[Equivalent | Rule]) -> bool:
    scores = {module: ModuleScore() for module in modules}
    survivors: list[Mutant] = []
    used: Counter[Equivalent | Rule] = Counter()
    for mutant in mutants:
        score = scores[mutant.module]
        if mutant.status not in KILLED:
            known = next((e for e in equivalents if e.matches(mutant)), None)
            if known is not None:
                score.equivalent += 1
                used[known] += 1
                continue
            survivors.append(mutant)
        score.counts[mutant.status] += 1

    for mutant in survivors:
        print(f"\n{mutant.status}: {mutant.name}")
        print("\n".join(mutant.diff.splitlines()[2:]))

    columns = ("mutants", "killed", "survived", "no tests", "other", "equiv")
    print(f"\n{'module':<14}" + "".join(f"{c:>9}" for c in columns) + f"{'score':>8}  floor")
    met = True
    total = ModuleScore()
    for module, score in scores.items():
        floor = FLOOR.get(module.split("/")[0], DEFAULT_FLOOR)
        met &= score.score >= floor
        print_row(module, score, floor)
        total.counts.update(score.counts)
        total.equivalent += score.equivalent
    print_row("all", total, None)
    if total.counts["not checked"]:
        print(f"note: {total.counts['not checked']} mutants not checked (run cut short?)")
    for entry in equivalents:
        if isinstance(entry, SqlCaseRule) and used[entry]:
            print(f"note: {used[entry]} mutants only change the letter case of SQL (sql-case rule)")
        if isinstance(entry, CastRule) and used[entry]:
            print(f"note: {used[entry]} mutants only change a cast's type (typing-cast rule)")
        if (
            isinstance(entry, Equivalent)
            and entry not in used
            and module_of(entry.function) in modules
        ):
            print(
                f"note: equivalent entry matches no surviving mutant: {entry.function}: {entry.added}"
            )
    return met


def print_row(name: str, score: ModuleScore, floor: float | None) -> None:
    survived, untested = score.counts["survived"], score.counts["no tests"]
    other = score.judged - score.killed - survived - untested
    cells = (score.judged, score.killed, survived, untested, other, score.equivalent)
    verdict = ""
    if floor is not None:
        verdict = f"  {floor:.0f}%" + ("" if score.score >= floor else " BELOW")
    print(f"{name:<14}" + "".join(f"{n:>9}" for n in cells) + f"{score.score:>7.1f}%{verdict}")


def module_of(function: str) -> str:
    """`sequence_clients.bulk.engine.x_run` -> `bulk/engine` (mutmut prefixes functions with x_ or
    x<separator><class>)."""
    parts = function.removeprefix("sequence_clients.").split(".")
    names = [part for part in parts if not part.startswith(("x_", "x\u01c1"))]
    return "/".join(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules",
        nargs="*",
        default=["wrapper"],
        help="groups (core, clients, wrapper, bulk) or modules (_plan, unify, bulk/engine, ...)",
    )
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant runs")
    parser.add_argument(
        "--resume", action="store_true", help="keep earlier verdicts (same sources and tests)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="report the last run without running"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="rerun only the last run's survivors and untested mutants (implies --resume), "
        "e.g. after adding tests for them; mutmut finds the new tests by itself",
    )
    parser.add_argument(
        "--source-root",
        type=Path,
        default=ROOT,
        help="a checkout holding wrapper/, tests/, generated/ (default: this one), e.g. a "
        "`git archive` of one commit while the working tree is mid-change",
    )
    args = parser.parse_args(argv)
    modules = modules_for(args.modules)
    if not args.report_only:
        names = survivors(modules) if args.survivors else []
        if args.survivors and not names:
            print("mutation: no survivors to rerun")
        else:
            resume = args.resume or args.survivors
            lay_out_stage(modules, source=args.source_root.resolve(), resume=resume)
            mutmut = [str(Path(sys.executable).with_name("mutmut")), "run"]
            command = [*mutmut, "--max-children", str(args.max_children), *names]
            run = subprocess.run(command, cwd=STAGE, check=False)
            if run.returncode != 0:
                print(f"mutation: mutmut run exited {run.returncode}", file=sys.stderr)
                return run.returncode
    met = report(modules, read_results(modules), load_equivalents())
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
