"""The command-line programs: each module's docstring is its --help, `run()` its console entry point
(`[project.scripts]` in pyproject.toml); scripts/<name>.py runs the same `run()`."""
