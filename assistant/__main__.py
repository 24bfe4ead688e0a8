try:
    from assistant.interrupt import install_sigterm

    install_sigterm()  # before the slow imports: SIGTERM while starting ends in one line too
    from assistant.cli import main
except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM) while Python is still importing
    import sys

    from assistant.interrupt import SIGTERM_EXIT, Terminated

    print("\nsori: terminated" if isinstance(exc, Terminated) else "\nsori: interrupted", file=sys.stderr)
    raise SystemExit(SIGTERM_EXIT if isinstance(exc, Terminated) else 130) from None

raise SystemExit(main())
