"""The static web leaderboard (`reprorec site`), `reprorec cite` and the rows both are built from."""
from .build import add_parser, build  # noqa: F401
