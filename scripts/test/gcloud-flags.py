#!/usr/bin/env python3
"""Checks the gcloud calls the fake recorded against the installed gcloud.

The fake gcloud takes any flag, so a misspelled or removed flag would pass the
operator-script tests and fail only in a real project. This reads the call log
(one shell-quoted call per line) and looks every command and flag up in the
static command tree the Cloud SDK ships for completion
(data/cli/gcloud_completions.py), which lists each command's own flags, its
groups' flags and the global ones. Prints one line per unknown command or
flag and exits 1 when there is any.

Usage: scripts/test/gcloud-flags.py CALL_LOG...
"""
import importlib.util
import os
import shlex
import shutil
import sys


def load_tree():
    gcloud = shutil.which("gcloud", path=os.environ.get("REAL_GCLOUD_PATH", "/usr/bin:/usr/local/bin:/usr/lib/google-cloud-sdk/bin"))
    roots = [os.environ.get("CLOUDSDK_ROOT_DIR", "")]
    if gcloud:
        roots.append(os.path.dirname(os.path.dirname(os.path.realpath(gcloud))))
    roots.append("/usr/lib/google-cloud-sdk")
    for root in filter(None, roots):
        path = os.path.join(root, "data", "cli", "gcloud_completions.py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location("gcloud_completions", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.STATIC_COMPLETION_CLI_TREE
    sys.exit("gcloud-flags: the Cloud SDK's data/cli/gcloud_completions.py was not found; install the gcloud CLI (or set CLOUDSDK_ROOT_DIR).")


def check(tree, argv):
    """Problems with one call: an unknown command, or flags its command does not take."""
    node, known, path = tree, dict(tree.get("flags", {})), ["gcloud"]
    args = argv[1:]
    i = 0
    # Walk down the groups while the positionals name subcommands.
    while i < len(args) and not args[i].startswith("-") and args[i] in node.get("commands", {}):
        node = node["commands"][args[i]]
        path.append(args[i])
        known.update(node.get("flags", {}))
        i += 1
    if node.get("commands"):
        following = next((a for a in args[i:] if not a.startswith("-")), None)
        return [f"{' '.join(path)} has no command {following}" if following else f"{' '.join(path)} is a command group, not a command"]
    problems = []
    for arg in args[i:]:
        if arg == "--":
            break
        if not arg.startswith("--"):
            continue
        name = arg.split("=", 1)[0]
        # A boolean flag --x is also accepted as --no-x.
        negated = "--" + name[5:] if name.startswith("--no-") else None
        if name not in known and not (negated and known.get(negated) == "bool"):
            problems.append(f"{' '.join(path)}: unknown flag {name}")
    return problems


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tree = load_tree()
    failures = []
    for log in sys.argv[1:]:
        with open(log, encoding="utf-8") as calls:
            for line in calls:
                argv = shlex.split(line)
                if argv and argv[0] == "gcloud":
                    failures += [f"{problem}   ({line.strip()})" for problem in check(tree, argv)]
    for failure in dict.fromkeys(failures):
        print(failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
