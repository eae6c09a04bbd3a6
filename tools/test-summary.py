#!/usr/bin/env python3
"""Prints meson's test totals from testlog.json as 'N passed, N failed'."""
import json
import sys

passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
except OSError as e:
    print("no test log: %s" % e)
    failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
