"""``numgrad <command>``: the command line (``python -m numgrad`` or the ``numgrad`` script)."""

import sys

COMMANDS = {"bench": "time numgrad against torch on this machine (numgrad bench --help)"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: numgrad <command> [options]\n\ncommands:")
        for name, what in COMMANDS.items():
            print(f"  {name:<8} {what}")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "bench":
        from numgrad.bench import main as bench_main

        return bench_main(rest)
    print(f"numgrad: unknown command {cmd!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
