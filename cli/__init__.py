"""The operator's command-line tool, ``autentikapp``.

One module per command group (``customers``, ``identifiers``, ...); ``cli.main`` builds the parser from
them, runs the chosen command and turns every expected failure into one line on stderr and an exit code.
"""
