"""`alive adopt ... --apply` and `--undo` (adopt.py plans and shows; this writes and puts back):
every file about to change is first copied into ALIVE_HOME/state/adopt/<kind>-<time>/ with a
manifest of its SHA-256 before and after; --undo restores the newest backup byte for byte, or
nothing when a file changed since. Also here, as the lowest of the adopt modules: the kinds'
modules (module()), and how a user's file is written (write_raw(): never scrubbed)."""
import hashlib
import json
import os
from pathlib import Path

from alive.base.errors import RuntimeFailure, UsageError
from alive.cliutil import plural

FLEET_KEY = "fleet.toml"


def module(kind):
    import importlib

    return importlib.import_module(f"alive.units.adopt_{ {'crontab': 'cron'}.get(kind, kind) }")


def write_raw(path, data):
    """A user's file (a job file, fleet.toml) written as these bytes, atomically, with the mode it
    had: never through the token scrubber, which would turn a token the job needs into [redacted].
    A symlink stays one (a unit linked from a dotfiles folder): its target is written."""
    from alive.base import atomic

    path = Path(os.path.realpath(path))
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(path, data, mode=mode, scrub=False)



def check_fleet(data, ctx):
    """The proposed fleet.toml must load: a mistake of ours is refused before anything is written."""
    import tempfile

    from alive.config import registry

    with tempfile.NamedTemporaryFile("wb", suffix=".toml", dir=ctx.home, delete=False) as f:
        f.write(data)
    try:
        registry.load(f.name, ctx.home)
    except registry.ConfigError as exc:
        raise RuntimeFailure(f"the fleet.toml adopt would write does not load ({exc.problems[0]}); "
                             f"nothing written") from None
    finally:
        os.unlink(f.name)



# ---------------------------------------------------------------- backup, apply, undo


def sha(data):
    return None if data is None else hashlib.sha256(data).hexdigest()


def backup_root(home, kind):
    return Path(home) / "state" / "adopt" / kind


def save_backup(ctx, old, new):
    """Every file about to change, before it changes -> the backup folder."""
    from alive.base import atomic

    folder = backup_root(ctx.home, ctx.kind) / ctx.now.strftime("%Y%m%dT%H%M%SZ")
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{ctx.now.strftime('%Y%m%dT%H%M%SZ')}-{n}")
    folder.mkdir(parents=True)
    entries = []
    for i, key in enumerate(sorted(new)):
        if old.get(key) is not None:                              # raw (the user's bytes) and private
            atomic.write_atomic(folder / f"{i}.orig", old[key], mode=0o600, scrub=False)
        entries.append({"key": str(ctx.config) if key == FLEET_KEY else key, "fleet": key == FLEET_KEY,
                        "blob": f"{i}.orig", "existed": old.get(key) is not None,
                        "sha256_before": sha(old.get(key)), "sha256_after": sha(new[key])})
    atomic.write_atomic(folder / "manifest.json", json.dumps(
        {"kind": ctx.kind, "made_at": ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ"), "entries": entries,
         "undone": False}, indent=2) + "\n")
    return folder


def put(kind, key, data, ctx):
    """Write one changed thing: fleet.toml here, the rest by the kind (None: remove it)."""
    if key == FLEET_KEY or (key == str(ctx.config)):
        if data is None:
            ctx.config.unlink(missing_ok=True)
        else:
            write_raw(ctx.config, data)
    elif data is None:
        kind.remove(key, ctx)
    else:
        kind.write(key, data, ctx)


def make_home(home):
    """--apply sets up: a missing ALIVE_HOME is created and said in the one line the writers
    print; one that cannot be is refused before anything is written."""
    from alive.base import paths
    from alive.base.errors import BrokenHome

    if home.is_dir():
        return
    try:
        home.mkdir(parents=True)
    except OSError as exc:
        raise BrokenHome(f"cannot create ALIVE_HOME {home}: {exc.strerror or exc}; nothing written") from None
    paths.say_created("alive adopt", home)


def apply(ctx, old, new, say):
    kind = module(ctx.kind)
    make_home(ctx.home)
    if FLEET_KEY in new:
        check_fleet(new[FLEET_KEY], ctx)
    folder = save_backup(ctx, old, new)
    say(f"backup: {folder}")
    done = []
    try:
        for key in sorted(new, key=lambda k: k != FLEET_KEY):     # fleet.toml first: jobs then report to a known task
            put(kind, key, new[key], ctx)
            done.append(key)
    except (OSError, RuntimeFailure) as exc:
        for key in reversed(done):                                # put back what was written
            put(kind, key, old.get(key), ctx)
        raise RuntimeFailure(f"could not write {key}: {getattr(exc, 'strerror', None) or exc}; "
                             f"everything put back as it was") from None
    kind.reload([k for k in new if k != FLEET_KEY], ctx, say)
    return folder


def latest_backup(home, kind):
    root = backup_root(home, kind)
    folders = sorted(root.iterdir(), reverse=True) if root.is_dir() else []
    for folder in folders:
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if not manifest.get("undone"):
            return folder, manifest
    return None, None


def current(kind, entry, ctx):
    if entry["fleet"]:
        path = Path(entry["key"])
        return path.read_bytes() if path.exists() else None
    return kind.read_one(entry["key"], ctx)


def backup_blob(folder, entry):
    """The saved original of one manifest entry (None: the file did not exist), refused unless it
    has the SHA-256 recorded at --apply: a damaged backup must not overwrite anything."""
    data = None
    if entry["existed"]:
        try:
            data = (folder / entry["blob"]).read_bytes()
        except OSError:
            pass
    if sha(data) != entry["sha256_before"]:
        raise RuntimeFailure(f"the backup {folder / entry['blob']} of {entry['key']} does not match the SHA-256 "
                             f"recorded at --apply; nothing restored")
    return data


def undo(ctx, say):
    from alive.base import atomic

    kind = module(ctx.kind)
    folder, manifest = latest_backup(ctx.home, ctx.kind)
    if folder is None:
        raise UsageError(f"nothing to undo: no `alive adopt {ctx.kind} --apply` backup in "
                         f"{backup_root(ctx.home, ctx.kind)}")
    changed = [e["key"] for e in manifest["entries"] if sha(current(kind, e, ctx)) != e["sha256_after"]]
    if changed:
        raise RuntimeFailure(f"{changed[0]} changed since `alive adopt {ctx.kind} --apply`; nothing restored "
                             f"(the originals are in {folder})")
    originals = {e["key"]: backup_blob(folder, e) for e in manifest["entries"]}
    for entry in manifest["entries"]:
        put(kind, FLEET_KEY if entry["fleet"] else entry["key"], originals[entry["key"]], ctx)
    wrong = [e["key"] for e in manifest["entries"] if sha(current(kind, e, ctx)) != e["sha256_before"]]
    if wrong:
        raise RuntimeFailure(f"{wrong[0]} did not come back byte for byte; the original is in {folder}")
    manifest["undone"] = True
    atomic.write_atomic(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    kind.reload([e["key"] for e in manifest["entries"] if not e["fleet"]], ctx, say)
    say(f"restored {plural(len(manifest['entries']), 'file')} byte for byte from {folder}")
    return 0
