"""tidal-opt: xdsl-opt with Tidal's dialects, passes and targets.

Tidal registers itself once, through its `xdsl.universe` entry point, which
xDSLOptMain already reads; this tool only names itself.
"""

from xdsl.xdsl_opt_main import xDSLOptMain


class TidalOptMain(xDSLOptMain):
    version_format = "tidal-opt (xDSL {xdsl_version})"


def main() -> None:
    TidalOptMain(description="Tidal modular optimizer driver").run()


if __name__ == "__main__":
    main()
