"""``python -m goldband``: the ``goldband`` command without relying on the console script."""

from goldband.cli import main

if __name__ == "__main__":
    main()
