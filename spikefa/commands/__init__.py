"""Subcommands of the ``spikefa`` CLI: each module has add_arguments(parser) and main(args).

Keep imports at module level light (argparse only): ``spikefa --help`` imports every command.
"""
