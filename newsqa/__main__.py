"""``python -m newsqa``: the same command line as ``newsqa``."""

from newsqa.cli import main

if __name__ == "__main__":
    main()
