"""Allow ``python -m marginlex``."""

from marginlex.cli import main

main()
