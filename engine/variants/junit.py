"""A rulebook test report as JUnit XML (``marginlex test --junit FILE``), for CI systems.

One ``<testsuite>`` per test file, one ``<testcase>`` per expectation (``classname`` the
rulebook, ``name`` the case), a ``<failure>`` listing each mismatch, an ``<error>`` for a case
that could not be evaluated; the ``[[property]]`` laws in one more suite, ``properties``
(a known finding, ``expected_to_fail``, as ``<skipped>``). Coverage below 100% is not a
failure here; it is written as a ``<property>`` of each rulebook's suite so that a CI
dashboard can show it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby
from pathlib import Path

from marginlex.engine.variants.rulebook_tests import CaseResult, TestReport
from marginlex.printable import escaped


def _case(suite: ET.Element, case: CaseResult) -> None:
    element = ET.SubElement(
        suite, "testcase", classname=case.rulebook, name=case.name or case.account
    )
    if case.error:
        ET.SubElement(element, "error", message=case.error).text = case.trace or case.error
    elif case.mismatches:
        lines = [f"{m.field}: expected {m.expected}, got {m.actual}" for m in case.mismatches]
        failure = ET.SubElement(element, "failure", message=lines[0])
        failure.text = "\n".join([*lines, case.trace] if case.trace else lines)


def junit_xml(report: TestReport) -> str:
    """The report as a JUnit XML document (UTF-8 text).

    >>> from marginlex.engine.variants.rulebook_tests import CaseResult, Mismatch, TestReport
    >>> ok = CaseResult(file="t.test.toml", name="a", rulebook="sec", account="A1",
    ...                 margin_set_id="ms:A1")
    >>> bad = ok.model_copy(update={"name": "b", "mismatches": (
    ...     Mismatch(field="call", expected="10.00", actual="0.00"),)})
    >>> print(junit_xml(TestReport(cases=(ok, bad), coverage=())))  # doctest: +NORMALIZE_WHITESPACE
    <?xml version='1.0' encoding='utf-8'?>
    <testsuites name="marginlex test" tests="2" failures="1" errors="0">
    <testsuite name="t.test.toml" tests="2" failures="1" errors="0">
    <testcase classname="sec" name="a" />
    <testcase classname="sec" name="b">
    <failure message="call: expected 10.00, got 0.00">call: expected 10.00, got 0.00</failure>
    </testcase>
    </testsuite>
    </testsuites>
    """
    root = ET.Element("testsuites", name="marginlex test")
    _counts(root, report.cases)
    coverage = {cov.rulebook_id: f"{cov.percent:.1f}" for cov in report.coverage}
    for file, cases in groupby(report.cases, key=lambda c: c.file):
        listed = list(cases)
        suite = ET.SubElement(root, "testsuite", name=file)
        _counts(suite, listed)
        # The JUnit schema puts a suite's <properties> first, before its test cases (CI
        # readers that validate refused them as a last child of <testsuites>).
        _coverage(suite, list(dict.fromkeys(c.rulebook for c in listed)), coverage)
        for case in listed:
            _case(suite, case)
    # a rulebook whose coverage no suite's cases name keeps its figure in a suite of its own
    named = {c.rulebook for c in report.cases}
    if untested := [r for r in coverage if r not in named]:
        suite = ET.SubElement(root, "testsuite", name="coverage")
        _counts(suite, [])
        _coverage(suite, untested, coverage)
    if report.properties:
        _property_suite(root, report)
    ET.indent(root, space="", level=0)
    text = ET.tostring(root, encoding="unicode", xml_declaration=True).replace(
        "<?xml version='1.0' encoding='unicode'?>", "<?xml version='1.0' encoding='utf-8'?>"
    )
    return _NOT_XML.sub(lambda m: escaped(m.group()), text)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
r"""Characters XML 1.0 cannot hold, even escaped (ElementTree writes them as they are, and a CI
system then refused the whole report as not well-formed): a case named ``"\u001b[31m"`` in a
test file shows as ``\x1b[31m``."""


def _coverage(suite: ET.Element, rulebooks: list[str], coverage: dict[str, str]) -> None:
    """The suite's ``<properties>``: the coverage of each of ``rulebooks`` that has one."""
    shown = [r for r in rulebooks if r in coverage]
    if shown:
        properties = ET.SubElement(suite, "properties")
        for rulebook in shown:
            name = f"coverage.{rulebook}"
            ET.SubElement(properties, "property", name=name, value=coverage[rulebook])


def _property_suite(root: ET.Element, report: TestReport) -> None:
    """One ``<testsuite name="properties">``: a property known to fail is ``<skipped>``."""
    results = report.properties
    failures = sum(r.outcome in {"fail", "unexpected pass"} for r in results)
    errors = sum(r.outcome == "error" for r in results)
    suite = ET.SubElement(root, "testsuite", name="properties", tests=str(len(results)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    for r in results:
        element = ET.SubElement(suite, "testcase", classname=r.rulebook, name=r.name)
        message = r.violation.message if r.violation else ""
        if r.outcome == "error":
            ET.SubElement(element, "error", message=r.error).text = r.error
        elif r.outcome == "expected failure":
            ET.SubElement(element, "skipped", message=f"known finding: {r.reason}: {message}")
        elif r.outcome == "unexpected pass":
            ET.SubElement(element, "failure", message="held, but marked expected_to_fail")
        elif r.violation is not None:
            text = "\n".join([message, r.book, r.violation.book_csv, *r.violation.traces])
            ET.SubElement(element, "failure", message=message).text = text
    for key, add in (("tests", len(results)), ("failures", failures), ("errors", errors)):
        root.set(key, str(int(root.get(key, "0")) + add))


def _counts(element: ET.Element, cases: list[CaseResult] | tuple[CaseResult, ...]) -> None:
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.mismatches and not c.error)))
    element.set("errors", str(sum(1 for c in cases if c.error)))


def write_junit(report: TestReport, path: Path) -> Path:
    """Write :func:`junit_xml` to ``path`` and return it."""
    path.write_text(junit_xml(report) + "\n", encoding="utf-8")
    return path
