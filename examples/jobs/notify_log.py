"""The demo's notification channel: appends each message (on stdin) to a file."""
import sys

with open(sys.argv[1], "a") as f:
    f.write(sys.stdin.read().rstrip("\n") + "\n---\n")
