"""Entry point of the MCP Bundle: Claude Desktop runs this file with its Python (see docs/clients.md).

The bundle carries the package (``hajatek_mcp/``) and its dependencies (``lib/``): pure-Python ones in
``lib/common``, compiled ones per CPython version (``lib/cp311`` ...) and for the stable ABI (``lib/abi3``), for one
platform, as ``lib/bundle.json`` says. This file puts the folders that match the running interpreter first on the
path (as site directories, so ``.pth`` files such as pywin32's are honoured), then runs the same command line as
``hajatek-mcp``. When nothing matches, it prints one line naming the Python it got, what the bundle carries and what
to do, and exits with status 1. Settings arrive as HAJATEK_* variables from the bundle's user configuration.

It must run far enough to say so on any Python 3.6 or newer (an old macOS ``python3`` is 3.9): no newer syntax here.
"""

import json
import os
import platform
import site
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = "https://github.com/hajatek/hajatek-mcp/blob/main/docs/clients.md#claude-desktop"


def machine() -> str:
    """The interpreter's own architecture, named as in bundle.json: x86_64, arm64, x86 or arm."""
    if sys.platform == "win32":  # platform.machine() names the OS, not a 32-bit or emulated interpreter
        name = sysconfig.get_platform().split("-")[-1].lower()
    else:  # a universal2 macOS build says universal2 in get_platform(), while machine() says how it runs now
        name = platform.machine().lower()
    bits64 = sys.maxsize > 2**32
    if name in ("x86_64", "amd64", "win32", "i386", "i686", "x86"):
        return "x86_64" if bits64 else "x86"
    if name in ("arm64", "aarch64", "armv8l", "arm"):
        return "arm64" if bits64 else "arm"
    return name


def library_folders(lib: str) -> "list[str]":  # quoted: Python 3.6-3.8 must parse this file too
    """The folders of ``lib`` for this interpreter, most specific first; SystemExit with the reason if none fit."""
    with open(os.path.join(lib, "bundle.json"), encoding="utf-8") as file:
        carried = json.load(file)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    pythons = sorted(carried["python"], key=lambda v: tuple(int(p) for p in v.split(".")))
    what = f"this bundle carries CPython {pythons[0]}-{pythons[-1]} for {carried['label']}"
    got = (
        f"Claude Desktop started {platform.python_implementation()} {platform.python_version()}"
        f" on {sys.platform} {machine()} ({sys.executable})"
    )
    if sys.platform != carried["sys_platform"] or machine() != carried["machine"]:
        wanted = f"{sys.platform}-{machine()}".replace("win32-x86_64", "win32-x64")  # as build.py names the files
        advice = f"install the bundle ending in -{wanted}.mcpb instead"
    elif sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        advice = f"install the standard CPython {pythons[0]} or newer from python.org"
    elif version not in carried["python"]:
        advice = f"install Python {pythons[0]} to {pythons[-1]} from python.org, then restart Claude Desktop"
    else:
        return [os.path.join(lib, folder) for folder in carried["python"][version]]
    raise SystemExit(f"hajatek-mcp: {what}; {got}: {advice} (see {DOCS})")


def use_bundled_libraries(lib: str) -> None:
    """Put the package and the library folders for this interpreter first on sys.path."""
    before = list(sys.path)
    for folder in library_folders(lib):
        site.addsitedir(folder)  # appends the folder and what its .pth files add, and runs their imports
    added = [path for path in sys.path if path not in before]
    sys.path[:] = [HERE, *added, *before]


def main() -> int:
    use_bundled_libraries(os.path.join(HERE, "lib"))
    from hajatek_mcp.cli import main as cli  # noqa: PLC0415  # importable only once the path is set

    return cli()


if __name__ == "__main__":
    raise SystemExit(main())
