"""A stand-in scheduled job: prints its summary, or fails with --fail MESSAGE.
--sleep takes a little over a second first (so min_duration = "1s" is met)."""
import sys
import time

args = sys.argv[1:]
if args[:1] == ["--sleep"]:
    time.sleep(1.2)
    args = args[1:]
if args[:1] == ["--fail"]:
    print(f"error: {' '.join(args[1:]) or 'failed'}", file=sys.stderr)
    sys.exit(1)
print(" ".join(args) or "done")
