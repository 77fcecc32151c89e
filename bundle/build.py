"""Build the MCP Bundle (.mcpb) for Claude Desktop's one-click install.

    python bundle/build.py [--mcpb PATH] [--out DIR]

Stages ``manifest.json``, the icon, README and LICENSE, the package (``server/hajatek_mcp``), the entry point
(``server/main.py``) and its dependencies (``server/lib``, installed by pip for THIS platform and Python), then runs
``mcpb pack``. Tests, caches and local data never enter the stage, so they cannot end up in the bundle.

Why ``server.type = "python"`` with the dependencies inside: that is what Claude Desktop runs today on a user's
machine with nothing but Python installed. The ``uv`` type (manifest 0.4) would fetch dependencies at first start but
is marked experimental and needs uv on the user's machine. The price is one bundle per platform (pydantic-core is a
compiled wheel): build on each OS you ship for (docs/clients.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.db", "*.db-*", ".DS_Store")


def stage(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    server = target / "server"
    server.mkdir(parents=True)
    for name in ("manifest.json", "icon.png", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "hajatek_mcp", server / "hajatek_mcp", ignore=IGNORED)
    shutil.copy2(ROOT / "bundle" / "main.py", server / "main.py")
    requirement = next(d for d in _dependencies() if d.startswith("mcp"))
    subprocess.run(  # our own interpreter's pip
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--only-binary=:all:", "--target", str(server / "lib"), requirement],
        check=True,
    )  # fmt: skip
    for junk in (server / "lib").rglob("__pycache__"):
        shutil.rmtree(junk, ignore_errors=True)
    shutil.rmtree(server / "lib" / "bin", ignore_errors=True)  # console scripts of the dependencies: not used
    return target


def _dependencies() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def platform_tag() -> str:
    return f"{sysconfig.get_platform().replace('-', '_')}-py{sys.version_info.major}{sys.version_info.minor}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mcpb", default=str(ROOT / ".tools" / "node_modules" / ".bin" / "mcpb"),
                        help="the mcpb CLI (npm install --prefix .tools @anthropic-ai/mcpb)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    manifest = json.loads((ROOT / "manifest.json").read_text())
    staged = stage(ROOT / "build" / "bundle")
    args.out.mkdir(parents=True, exist_ok=True)
    bundle = args.out / f"hajatek-mcp-{manifest['version']}-{platform_tag()}.mcpb"
    subprocess.run([args.mcpb, "validate", str(staged / "manifest.json")], check=True)
    subprocess.run([args.mcpb, "pack", str(staged), str(bundle)], check=True)
    print(f"built {bundle} for {platform.system()} {platform.machine()}, Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
