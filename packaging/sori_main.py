"""Entry point of the PyInstaller bundle: the same `sori` command as the installed package."""

import sys

if __name__ == "__main__":
    from assistant.tools.probe import FROZEN_FLAG

    if sys.argv[1:2] == [FROZEN_FLAG]:  # the bundle started as the plugin checking process
        from assistant.tools.probe import serve

        serve(int(sys.argv[2]))
        raise SystemExit(0)
    from assistant.cli import main

    raise SystemExit(main())
