"""The equivalent-mutant list as `make mutation` reads it: every entry is well formed and names a
function of a module the tool mutates, and each rule (letter case of SQL, a cast's type) takes
exactly the mutants it claims and nothing a user could see."""

from __future__ import annotations

import mutation
import pytest
from mutation import CastRule, Equivalent, Mutant, SqlCaseRule


def journal_mutant(before: str, after: str, module: str = "bulk/journal") -> Mutant:
    diff = f"--- a\n+++ b\n@@ -1,3 +1,3 @@\n     found = self._db.execute(\n-{before}\n+{after}\n"
    return Mutant(name="x__mutmut_1", module=module, status="survived", diff=diff)


def sql_rule() -> SqlCaseRule:
    [rule] = [e for e in mutation.load_equivalents() if isinstance(e, SqlCaseRule)]
    return rule


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('"SELECT state, run_id FROM rows"', '"select state, run_id from rows"'),
        ('" WHERE vendor = ? AND key = ?",', '" WHERE VENDOR = ? AND KEY = ?",'),
        ("\"SELECT COALESCE(detail, '') FROM rows\"", "\"select coalesce(detail, '') from rows\""),
        ('self._db.execute("COMMIT" if kind is None else "ROLLBACK")',
         'self._db.execute("commit" if kind is None else "ROLLBACK")'),
    ],
)  # fmt: skip
def test_a_change_of_case_in_sql_is_equivalent(before: str, after: str) -> None:
    assert sql_rule().matches(journal_mutant(before, after))


@pytest.mark.parametrize(
    ("before", "after", "module"),
    [
        # A quoted literal is compared as written.
        ("\" AND state IN ('failed')\"", "\" AND STATE IN ('FAILED')\"", "bulk/journal"),
        # Not SQL: a message a user reads.
        ('"wait for it to finish"', '"WAIT FOR IT TO FINISH"', "bulk/journal"),
        # The case changed outside a string.
        ('x = "SELECT 1" if ok else None', 'x = "SELECT 1" if ok else NONE', "bulk/journal"),
        # Not a change of case at all.
        ('"SELECT state FROM rows"', '"XXSELECT state FROM rowsXX"', "bulk/journal"),
        # SQL in a module the rule does not cover.
        ('"SELECT 1"', '"select 1"', "bulk/engine"),
    ],
)
def test_anything_else_is_left_to_the_tests(before: str, after: str, module: str) -> None:
    assert not sql_rule().matches(journal_mutant(before, after, module))


def cast_rule() -> CastRule:
    [rule] = [e for e in mutation.load_equivalents() if isinstance(e, CastRule)]
    return rule


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("return cast(T, done.value)", "return cast(None, done.value)"),
        ('backoff = cast("tenacity.DoSleep", retrying.iter(retry_state=state))',
         'backoff = cast("XXtenacity.DoSleepXX", retrying.iter(retry_state=state))'),
        ("raw, generation = cast(list[Any], found)  # why", "raw, generation = cast(None, found)  # why"),
        ("x = typing.cast(dict[str, int], y)", "x = typing.cast(None, y)"),
    ],
)  # fmt: skip
def test_a_change_of_a_casts_type_alone_is_equivalent(before: str, after: str) -> None:
    assert cast_rule().matches(journal_mutant(before, after, "_plan"))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("return cast(T, done.value)", "return cast(T, None)"),  # the value itself
        ("return cast(T, done.value)", "return None"),
        ("x = cast(T, a) + 1", "x = cast(None, a) - 1"),  # something else changed too
        ("y = broadcast(T, a)", "y = broadcast(None, a)"),  # not typing.cast
    ],
)
def test_a_cast_whose_value_or_surroundings_change_is_left_to_the_tests(
    before: str, after: str
) -> None:
    assert not cast_rule().matches(journal_mutant(before, after, "_plan"))


def test_every_entry_names_a_module_the_tool_mutates_and_says_why() -> None:
    mutated = {module for group in mutation.GROUPS.values() for module in group}
    entries = [e for e in mutation.load_equivalents() if isinstance(e, Equivalent)]
    assert entries
    for entry in entries:
        assert mutation.module_of(entry.function) in mutated, entry.function
        assert entry.removed != entry.added and len(entry.reason) > 20, entry.function


def test_the_bulk_group_names_the_engine_and_cli_still_means_it() -> None:
    """`MODULES=bulk` (formerly `cli`, kept as an alias) mutates modules that exist, under the
    engine's floor, against test files that exist."""
    modules = mutation.modules_for(["bulk"])
    assert modules and all(module.startswith("bulk/") for module in modules)
    assert mutation.modules_for(["cli"]) == modules
    assert all(mutation.FLOOR.get(module.split("/")[0]) for module in modules)
    tests = mutation.tests_for(modules)
    assert tests and all((mutation.ROOT / path).is_file() for path in tests)
