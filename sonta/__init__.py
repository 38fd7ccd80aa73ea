"""The `sonta` command line: a thin dispatcher to each package's own subcommands."""
