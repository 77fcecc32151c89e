"""Build the MCP Bundles (.mcpb) for Claude Desktop's one-click install: one per platform, each for CPython 3.11-3.14.

    python bundle/build.py [--platform darwin-arm64 ...] [--mcpb PATH] [--out DIR]

Writes ``dist/hajatek-mcp-<version>-<platform>.mcpb`` for darwin-arm64, darwin-x86_64, win32-x64 and linux-x86_64
(all four unless ``--platform`` names some). Inside each::

    manifest.json        compatibility: this one platform, python ">=3.11,<3.15"
    server/main.py       the entry point: picks the library folders for the interpreter it runs under
    server/hajatek_mcp/  the package
    server/lib/common/   pure-Python dependencies, once
    server/lib/abi3/     compiled wheels built for the stable ABI (cryptography), once
    server/lib/cp3XX/    compiled wheels of one CPython version (pydantic-core, rpds-py, cffi, pywin32 on Windows)
    server/lib/bundle.json  which platform and Python versions the bundle carries, and their folders

Every platform's wheels come from this one machine: pip resolves ``mcp`` per (platform, Python version) with
``--platform --python-version --implementation cp --only-binary=:all:`` (a dry run with ``--report``). pip evaluates
environment markers for the machine it runs on, not the target, so the resolution is walked again with the target's
markers; what only the target needs (pywin32 on Windows) is resolved in a second pass, and what only this
machine needs is dropped. Each wheel is downloaded once into ``build/bundle/wheels`` (kept between builds, checked
against the index's sha256), then unpacked into the folders above: a wheel that every Python version of a platform
shares goes to ``common`` or ``abi3``, the rest to its version's folder.

Why ``server.type = "python"`` and not ``"uv"`` (mcpb MANIFEST.md and README, CLI 2.1.2): ``uv`` would let the host
install Python and the dependencies itself, so the merchant would need nothing but Claude Desktop. But the
specification marks it experimental and "subject to change" and it exists only in manifest 0.4 (the latest stable
schema is 0.3); the specification calls ``mcp_config`` optional for it while ``mcpb`` 2.1.2 rejects a manifest without
one, and says nothing of which command in it works where uv is not installed; Claude Code's bundle validator has
rejected the type; and the host would resolve and download our dependencies from PyPI at first start (network needed,
versions not those CI tested). No host that runs ``uv`` bundles can run in CI to prove it. ``python`` is stable,
starts offline with the wheels this build pinned and CI checked, and its one need, a CPython 3.11-3.14 on the
machine, is checked by ``server/main.py`` with a one-line message (docs/clients.md says what to do).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pragma: no cover - a build-time need, reported in one line
    raise SystemExit("bundle/build.py needs `packaging`: python -m pip install packaging") from None

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bundle"
MCPB = ROOT / ".tools" / "node_modules" / ".bin" / "mcpb"
MCPB_INSTALL = "npm install --prefix .tools @anthropic-ai/mcpb@2.1.2"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
# Parts of a dependency nothing imports: pywin32's help file and its Pythonwin editor (MFC GUI), 6 MB per version.
LEAVE_OUT = {"pywin32": ("PyWin32.chm", "pythonwin/")}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.db", "*.db-*", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class Platform:
    """A platform Claude Desktop runs a bundle on, as pip's wheel tags, Python and environment markers name it."""

    label: str
    sys_platform: str  # sys.platform, and the manifest's compatibility.platforms value
    system: str  # platform.system(), for markers
    machine: str  # platform.machine() as server/main.py normalises it
    marker_machine: str  # platform.machine() as the platform's Python reports it, for markers
    wheel_tags: tuple[str, ...]  # pip --platform values

    def markers(self, python: str) -> dict[str, str]:
        """The PEP 508 marker environment of CPython ``python`` on this platform."""
        return {
            "sys_platform": self.sys_platform,
            "platform_system": self.system,
            "platform_machine": self.marker_machine,
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "python_version": python,
            "python_full_version": f"{python}.0",
            "implementation_name": "cpython",
            "implementation_version": f"{python}.0",
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_version": "",
        }


MANYLINUX = (*(f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)), "manylinux2014_x86_64")
PLATFORMS = {
    "darwin-arm64": Platform(
        "macOS arm64 (Apple silicon)", "darwin", "Darwin", "arm64", "arm64", ("macosx_11_0_arm64",)
    ),
    "darwin-x86_64": Platform("macOS x86_64 (Intel)", "darwin", "Darwin", "x86_64", "x86_64", ("macosx_11_0_x86_64",)),
    "win32-x64": Platform("Windows x64", "win32", "Windows", "x86_64", "AMD64", ("win_amd64",)),
    "linux-x86_64": Platform("Linux x86_64 (glibc 2.28+)", "linux", "Linux", "x86_64", "x86_64", MANYLINUX),
}


@dataclasses.dataclass(frozen=True)
class Wheel:
    name: str
    filename: str
    url: str
    sha256: str
    requires: tuple[str, ...]  # Requires-Dist

    @classmethod
    def from_report(cls, item: dict[str, Any]) -> Wheel:
        """From one ``install`` entry of ``pip install --report``."""
        url = item["download_info"]["url"]
        return cls(
            name=canonicalize_name(item["metadata"]["name"]),
            filename=unquote(url.rsplit("/", 1)[-1].split("#")[0]),
            url=url,
            sha256=item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256", ""),
            requires=tuple(item["metadata"].get("requires_dist", ())),
        )

    @property
    def shared_folder(self) -> str:
        """Where the wheel goes when every Python version of the platform uses it."""
        _, _, _, tags = parse_wheel_filename(self.filename)
        return "common" if all(t.platform == "any" for t in tags) else "abi3"


def pip(*args: str) -> None:
    """Run this interpreter's pip quietly; on failure show what it said and stop."""
    command = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check", "--only-binary=:all:"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"pip {args[0]} failed (exit {done.returncode})")


def target_flags(platform: Platform, python: str) -> list[str]:
    flags = ["--implementation", "cp", "--python-version", python]
    for tag in platform.wheel_tags:
        flags += ["--platform", tag]
    return flags


def resolve_platform(platform: Platform, roots: list[str]) -> dict[str, list[Wheel]]:
    """Python version → the wheels ``roots`` need there; what the first version taught (pywin32) seeds the others."""
    wheels: dict[str, list[Wheel]] = {}
    for python in PYTHONS:
        wheels[python], roots = resolve(platform, python, roots)
    return wheels


def resolve(platform: Platform, python: str, requirements: list[str]) -> tuple[list[Wheel], list[str]]:
    """The wheels the requirements need on (platform, python) with the target's markers, and the requirements that
    it took: the given ones plus the dependencies pip skipped because their markers are false on this machine."""
    environment = platform.markers(python)
    for _ in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            flags = target_flags(platform, python)
            pip("install", "--dry-run", "--ignore-installed", "--report", str(report), *flags, *requirements)
            items = json.loads(report.read_text())["install"]
        found = {wheel.name: wheel for wheel in map(Wheel.from_report, items)}
        needed, missing = _walk([Requirement(r) for r in requirements], found, environment)
        if not missing:
            return [found[name] for name in sorted(needed)], requirements
        requirements = [*requirements, *{_without_marker(r): None for r in missing}]
    raise SystemExit(f"could not resolve {requirements} for {platform.label}, Python {python}: missing {missing}")


def _walk(
    roots: list[Requirement], found: dict[str, Wheel], environment: dict[str, str]
) -> tuple[set[str], list[Requirement]]:
    """Follow Requires-Dist from the roots, evaluating markers (extras included) for the target environment."""
    extras_of: dict[str, set[str]] = {}
    missing: list[Requirement] = []
    stack = list(roots)
    while stack:
        requirement = stack.pop()
        name = canonicalize_name(requirement.name)
        wheel = found.get(name)
        version = parse_wheel_filename(wheel.filename)[1] if wheel else None
        if wheel is None or (version and not requirement.specifier.contains(version, prereleases=True)):
            missing.append(requirement)
            continue
        new = [""] if name not in extras_of else []
        new += sorted(set(requirement.extras) - extras_of.get(name, set()))
        extras_of.setdefault(name, set()).update(requirement.extras)
        for line in wheel.requires:
            child = Requirement(line)
            if child.marker is None:
                applies = "" in new  # an unconditional dependency: taken with the package itself
            else:
                applies = any(child.marker.evaluate({**environment, "extra": extra}) for extra in new)
            if applies:
                stack.append(child)
    return set(extras_of), missing


def _without_marker(requirement: Requirement) -> str:
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def download(resolved: dict[str, dict[str, list[Wheel]]], cache: Path) -> None:
    """Fetch each wheel once into ``cache`` (kept across builds): one pip call per target, for the files not there."""
    cache.mkdir(parents=True, exist_ok=True)
    fetched: set[str] = set()
    for key, per_python in resolved.items():
        for python, wheels in per_python.items():
            todo = [w for w in wheels if w.filename not in fetched and not _intact(cache / w.filename, w.sha256)]
            if todo:
                urls = [f"{w.url}#sha256={w.sha256}" if w.sha256 else w.url for w in todo]
                pip("download", "--no-deps", "--dest", str(cache), *target_flags(PLATFORMS[key], python), *urls)
            for wheel in wheels:
                if wheel.filename not in fetched and not _intact(cache / wheel.filename, wheel.sha256):
                    raise SystemExit(f"{wheel.filename}: the download does not match the index's sha256")
                fetched.add(wheel.filename)


def _intact(path: Path, sha256: str) -> bool:
    """The file is there and, when the index gave a hash (PyPI always does), matches it."""
    return path.is_file() and (not sha256 or hashlib.sha256(path.read_bytes()).hexdigest() == sha256)


def layout(per_python: dict[str, list[Wheel]]) -> dict[str, list[Wheel]]:
    """Library folder → its wheels: wheels every version uses once, the others per version (cp311, cp312, ...)."""
    shared = set.intersection(*({w.filename for w in ws} for ws in per_python.values()))
    folders: dict[str, list[Wheel]] = {}
    for python, wheels in per_python.items():
        for wheel in wheels:
            folder = wheel.shared_folder if wheel.filename in shared else "cp" + python.replace(".", "")
            if wheel not in folders.setdefault(folder, []):
                folders[folder].append(wheel)
    return folders


def unpack(wheel: Path, target: Path, leave_out: tuple[str, ...] = ()) -> None:
    """Install a wheel by extracting it: ``*.data/purelib`` and ``platlib`` join the root; scripts and data don't."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            if info.is_dir() or ".." in parts or info.filename.startswith("/"):
                continue
            if parts[0].endswith(".data"):
                if parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            if "/".join(parts).startswith(leave_out):
                continue
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(info))


def stage(key: str, platform: Platform, folders: dict[str, list[Wheel]], cache: Path) -> Path:
    target = BUILD / "stage" / key
    if target.exists():
        shutil.rmtree(target)
    server = target / "server"
    server.mkdir(parents=True)
    for name in ("icon.png", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, target / name)
    manifest = json.loads((ROOT / "manifest.json").read_text())
    manifest["compatibility"]["platforms"] = [platform.sys_platform]
    manifest["compatibility"]["runtimes"]["python"] = python_range()
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    shutil.copytree(ROOT / "hajatek_mcp", server / "hajatek_mcp", ignore=IGNORED)
    shutil.copy2(ROOT / "bundle" / "main.py", server / "main.py")
    for folder, wheels in folders.items():
        for wheel in wheels:
            unpack(cache / wheel.filename, server / "lib" / folder, LEAVE_OUT.get(wheel.name, ()))
    shared = [folder for folder in ("abi3", "common") if folder in folders]
    carried = {
        "platform": key,
        "label": platform.label,
        "sys_platform": platform.sys_platform,
        "machine": platform.machine,
        "python": {python: ["cp" + python.replace(".", ""), *shared] for python in PYTHONS},
    }
    (server / "lib" / "bundle.json").write_text(json.dumps(carried, indent=2) + "\n")
    return target


def python_range() -> str:
    last = PYTHONS[-1].split(".")
    return f">={PYTHONS[0]},<{last[0]}.{int(last[1]) + 1}"


def pack(mcpb: str, staged: Path, bundle: Path) -> None:
    for command in ([mcpb, "validate", str(staged / "manifest.json")], [mcpb, "pack", str(staged), str(bundle)]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"mcpb {command[1]} failed for {staged.name} (exit {done.returncode})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="build only this (repeatable)")
    parser.add_argument("--mcpb", default=str(MCPB), help=f"the mcpb CLI ({MCPB_INSTALL})")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    mcpb = shutil.which(args.mcpb)
    if mcpb is None:
        print(f"mcpb CLI not found at {args.mcpb}: install it with `{MCPB_INSTALL}`", file=sys.stderr)
        return 1
    return build({key: PLATFORMS[key] for key in args.platform or PLATFORMS}, mcpb, args.out)


def build(platforms: dict[str, Platform], mcpb: str, out: Path) -> int:
    clock = Clock()
    roots = list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    with concurrent.futures.ThreadPoolExecutor() as pool:  # pip mostly waits on the index: one thread per platform
        resolved = dict(zip(platforms, pool.map(lambda p: resolve_platform(p, roots), platforms.values()), strict=True))
    clock.lap("resolved")
    cache = BUILD / "wheels"
    download(resolved, cache)
    clock.lap("downloaded")
    version = json.loads((ROOT / "manifest.json").read_text())["version"]
    out.mkdir(parents=True, exist_ok=True)
    bundles = {key: out / f"hajatek-mcp-{version}-{key}.mcpb" for key in platforms}
    folders = {key: layout(resolved[key]) for key in platforms}
    staged = {key: stage(key, platform, folders[key], cache) for key, platform in platforms.items()}
    clock.lap("staged")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # mcpb zips on one core
        list(pool.map(lambda key: pack(mcpb, staged[key], bundles[key]), platforms))
    clock.lap("validated and packed")
    for key, platform in platforms.items():
        compiled = sorted({w.name for folder, ws in folders[key].items() if folder != "common" for w in ws})
        size, pythons = bundles[key].stat().st_size / 1e6, f"{PYTHONS[0]}-{PYTHONS[-1]}"
        print(f"{bundles[key]}: {size:.1f} MB, {platform.label}, CPython {pythons}; compiled: {', '.join(compiled)}")
    print(f"{len(platforms)} bundle(s) in {clock.total():.0f} s ({clock})")
    return 0


class Clock:
    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.laps: list[str] = []

    def lap(self, what: str) -> None:
        now = time.monotonic()
        self.laps.append(f"{what} {now - self.last:.0f} s")
        self.last = now

    def total(self) -> float:
        return time.monotonic() - self.started

    def __str__(self) -> str:
        return ", ".join(self.laps)


if __name__ == "__main__":
    raise SystemExit(main())
