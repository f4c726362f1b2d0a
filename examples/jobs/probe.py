"""A stand-in login probe: prints the state it is given (alive | expired | no_tab)."""
import sys

print(sys.argv[1] if len(sys.argv) > 1 else "alive")
