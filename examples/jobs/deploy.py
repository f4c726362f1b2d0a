"""A stand-in deploy step: runs once after the refreshes of a tick; records when."""
from datetime import datetime, timezone

with open("deploys.log", "a") as f:
    f.write(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + " deployed\n")
print("deployed")
