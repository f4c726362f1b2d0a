"""A stand-in producer: writes OUT as JSON with captured_at = now (atomically).

--field KEY=VALUE adds a field; --fail-first N fails the first N runs (a counter file
beside OUT remembers them), like a flaky API that works on the third try.
"""
import json
import os
import sys
from datetime import datetime, timezone

out, rest = sys.argv[1], sys.argv[2:]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
doc = {"captured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "rows": 240}
while rest:
    flag, value, rest = rest[0], rest[1], rest[2:]
    if flag == "--field":
        key, _, val = value.partition("=")
        doc[key] = val
    elif flag == "--fail-first":
        counter = out + ".attempts"
        attempts = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
        with open(counter, "w") as f:
            f.write(str(attempts))
        if attempts <= int(value):
            print(f"error: upstream answered 503 (attempt {attempts})", file=sys.stderr)
            sys.exit(1)
with open(out + ".tmp", "w") as f:
    json.dump(doc, f)
os.replace(out + ".tmp", out)
print(f"wrote {out}")
