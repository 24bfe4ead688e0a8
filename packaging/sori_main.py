"""Entry point of the PyInstaller bundle: the same `sori` command as the installed package."""

from assistant.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
