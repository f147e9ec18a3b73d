#!/usr/bin/env python3
"""Counts test cases in meson's JUnit logs: prints 'PASSED FAILED SKIPPED'.

meson test writes one <testsuite> per gtest suite (protocol gtest) and one
<testcase> per plain test, so this counts individual test cases, not binaries.
A missing or unreadable log counts as one failure: a suite that did not run
must not look like a pass.
"""
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"count_tests: {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "failure" in tags or "error" in tags:
            failed += 1
        elif "skipped" in tags:
            skipped += 1
        else:
            passed += 1
print(passed, failed, skipped)
