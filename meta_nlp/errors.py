"""The one exception users see: a one-line message, never a deep traceback."""


class MetaNLPError(Exception):
    """Bad input (unknown task, language, algorithm; too little data; missing model; broken YAML).

    Scripts print `error: <message>` and exit with status 2.
    """
