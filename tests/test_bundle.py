"""The MCP Bundles: one per platform, each carrying the compiled wheels of every CPython its manifest declares.

CI builds all four first (``python bundle/build.py``, see .ci/run). Locally the tests read
``dist/hajatek-mcp-<version>-<platform>.mcpb`` and are skipped when one is absent; under CI they fail instead.
What cannot run here (macOS and Windows) is checked from the archive: the manifest, the tags of every compiled module
and wheel, and the dependency closure of ``mcp`` under that platform's environment markers. The linux bundle is also
imported whole, and started, under each CPython found on this machine.
"""

from __future__ import annotations

import dataclasses
import email
import email.message
import functools
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from types import ModuleType

import pytest
from mcp import Client, StdioServerParameters
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
VERSION = json.loads((ROOT / "manifest.json").read_text())["version"]
CARRIED = ("3.11", "3.12", "3.13", "3.14")


@dataclasses.dataclass(frozen=True)
class Target:
    """What a platform's bundle must look like, stated independently of bundle/build.py."""

    sys_platform: str
    system: str  # platform.system(), for environment markers
    machine: str  # platform.machine() there, for environment markers
    wheel_platform: str  # regex: the platform part of a compatible wheel tag
    extension: str  # regex: a compiled module of CPython {v} (e.g. 312)
    abi3_extension: str  # regex: a compiled module for the stable ABI


MACOS_SO, ABI3_SO = r"[^.]+\.cpython-{v}-darwin\.so", r"[^.]+\.abi3\.so"
TARGETS = {
    "darwin-arm64": Target("darwin", "Darwin", "arm64", r"macosx_\d+_\d+_(arm64|universal2)", MACOS_SO, ABI3_SO),
    "darwin-x86_64": Target("darwin", "Darwin", "x86_64", r"macosx_\d+_\d+_(x86_64|universal2)", MACOS_SO, ABI3_SO),
    # pywin32 names its modules without a tag (win32api.pyd): its wheel's tag says the version.
    "win32-x64": Target("win32", "Windows", "AMD64", r"win_amd64", r"[^.]+(\.cp{v}-win_amd64)?\.pyd", r"[^.]+\.pyd"),
    "linux-x86_64": Target(
        "linux", "Linux", "x86_64", r"(manylinux_2_\d+|manylinux2014|manylinux1)_x86_64",
        r"[^.]+\.cpython-{v}-x86_64-linux-gnu\.so", ABI3_SO,
    ),
}  # fmt: skip


def bundle_path(platform: str) -> Path:
    path = ROOT / "dist" / f"hajatek-mcp-{VERSION}-{platform}.mcpb"
    if not path.exists():
        message = f"no {path.name}: run `python bundle/build.py --platform {platform}` (or all four without it) first"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class Bundle:
    """A built .mcpb, read as the zip archive it is."""

    def __init__(self, path: Path) -> None:
        self.archive = zipfile.ZipFile(path)
        self.names = self.archive.namelist()
        self.manifest = json.loads(self.archive.read("manifest.json"))
        self.carried = json.loads(self.archive.read("server/lib/bundle.json"))

    def files(self, folder: str) -> list[PurePosixPath]:
        """The files of ``server/lib/<folder>``, relative to it."""
        prefix = f"server/lib/{folder}/"
        return [PurePosixPath(n[len(prefix) :]) for n in self.names if n.startswith(prefix) and not n.endswith("/")]

    def distributions(self, folder: str) -> dict[str, email.message.Message]:
        """Canonical name → METADATA of every distribution installed in the folder."""
        metadata = [f for f in self.files(folder) if len(f.parts) == 2 and f.parts[1] == "METADATA"]
        parsed = [email.message_from_bytes(self.archive.read(f"server/lib/{folder}/{f}")) for f in metadata]
        return {canonicalize_name(m["Name"]): m for m in parsed}


@functools.cache
def opened(platform: str) -> Bundle:
    return Bundle(bundle_path(platform))


@pytest.mark.parametrize("platform", TARGETS)
def test_a_bundle_leaves_out_tests_caches_and_local_data(platform: str) -> None:
    names = opened(platform).names
    assert "server/main.py" in names
    assert any(n.startswith("server/hajatek_mcp/server/") for n in names)
    assert any(n.startswith("server/lib/common/mcp/") for n in names)
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n.split("server/lib/")[0]]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".db", ".db-wal"))]
    assert not [n for n in names if n.startswith((".git", ".venv", ".tools", "build/", "dist/"))]


@pytest.mark.parametrize("platform", TARGETS)
def test_a_bundle_declares_only_its_platform_and_the_pythons_it_carries(platform: str) -> None:
    bundle = opened(platform)
    compatibility = bundle.manifest["compatibility"]
    assert compatibility["platforms"] == [TARGETS[platform].sys_platform]
    declared = SpecifierSet(compatibility["runtimes"]["python"])
    assert [v for v in ("3.10", *CARRIED, "3.15") if v in declared] == list(CARRIED)
    assert sorted(bundle.carried["python"]) == list(CARRIED)
    assert (bundle.carried["sys_platform"], bundle.carried["platform"]) == (TARGETS[platform].sys_platform, platform)
    version_folders = {n.split("/")[2] for n in bundle.names if re.match(r"server/lib/cp\d+/", n)}
    assert version_folders == {"cp" + v.replace(".", "") for v in CARRIED}
    for python, folders in bundle.carried["python"].items():
        assert folders[0] == "cp" + python.replace(".", "")
        assert all(bundle.files(folder) for folder in folders), folders


@pytest.mark.parametrize("platform", TARGETS)
def test_every_compiled_module_and_wheel_matches_each_declared_python_and_the_platform(platform: str) -> None:
    bundle, target = opened(platform), TARGETS[platform]
    for python in bundle.carried["python"]:
        v = python.replace(".", "")
        folder = f"cp{v}"
        assert compiled_modules(bundle, "common") == []
        assert_modules(compiled_modules(bundle, folder), target.extension.format(v=v))
        assert_modules(compiled_modules(bundle, "abi3"), target.abi3_extension)
        assert_tags(wheel_tags(bundle, folder), rf"cp{v}-cp{v}-{target.wheel_platform}")
        abi3 = wheel_tags(bundle, "abi3")
        assert_tags(abi3, rf"cp3\d+-abi3-{target.wheel_platform}")
        assert all(int(tag.split("-")[0][3:]) <= int(python.split(".")[1]) for tag in abi3), abi3
        assert_tags(wheel_tags(bundle, "common"), r"(py3|py2\.py3)-none-any")
        pydantic_core = [m for m in compiled_modules(bundle, folder) if m.parts[0] == "pydantic_core"]
        assert len(pydantic_core) == 1, (folder, pydantic_core)


def test_the_windows_bundle_carries_pywin32_ready_to_import_for_each_python() -> None:
    # Unpacked rather than installed, pywin32 works through pywin32.pth (folders + bootstrap), which server/main.py
    # runs, and its DLLs in pywin32_system32.
    bundle = opened("win32-x64")
    for python in bundle.carried["python"]:
        files = {str(f) for f in bundle.files("cp" + python.replace(".", ""))}
        v = python.replace(".", "")
        assert {"pywin32.pth", "win32/win32api.pyd", "win32/win32job.pyd", "win32/lib/pywintypes.py"} <= files
        assert {f"pywin32_system32/pywintypes{v}.dll", "win32/lib/pywin32_bootstrap.py"} <= files


def compiled_modules(bundle: Bundle, folder: str) -> list[PurePosixPath]:
    return [f for f in bundle.files(folder) if f.suffix in (".so", ".pyd")]


def assert_modules(modules: list[PurePosixPath], pattern: str) -> None:
    wrong = [str(m) for m in modules if not re.fullmatch(pattern, m.name)]
    assert not wrong, f"compiled modules not matching {pattern}: {wrong}"


def wheel_tags(bundle: Bundle, folder: str) -> dict[str, str]:
    """Tag → the wheel that declares it, from the ``Tag:`` lines of every dist-info WHEEL file in the folder."""
    tags = {}
    for wheel in [f for f in bundle.files(folder) if len(f.parts) == 2 and f.parts[1] == "WHEEL"]:
        lines = bundle.archive.read(f"server/lib/{folder}/{wheel}").decode().splitlines()
        assert any(line.startswith("Tag:") for line in lines), wheel
        tags |= {line.split(":", 1)[1].strip(): str(wheel.parent) for line in lines if line.startswith("Tag:")}
    return tags


def assert_tags(tags: dict[str, str], pattern: str) -> None:
    wrong = {tag: wheel for tag, wheel in tags.items() if not re.fullmatch(pattern, tag)}
    assert not wrong, f"wheel tags not matching {pattern}: {wrong}"


@pytest.mark.parametrize("platform", TARGETS)
def test_every_dependency_is_carried_for_each_declared_python_under_the_platform_markers(platform: str) -> None:
    bundle, target = opened(platform), TARGETS[platform]
    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for python, folders in bundle.carried["python"].items():
        carried: dict[str, email.message.Message] = {}
        for folder in folders:
            found = bundle.distributions(folder)
            assert not carried.keys() & found.keys(), f"{python}: carried twice: {carried.keys() & found.keys()}"
            carried |= found
        environment = {
            "sys_platform": target.sys_platform, "platform_system": target.system, "platform_machine": target.machine,
            "os_name": "nt" if target.sys_platform == "win32" else "posix", "python_version": python,
            "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }  # fmt: skip
        missing = missing_requirements([Requirement(r) for r in roots], carried, environment)
        assert not missing, f"{platform}, Python {python}: not carried: {missing}"


def missing_requirements(
    roots: list[Requirement], carried: dict[str, email.message.Message], environment: dict[str, str]
) -> list[str]:
    missing: list[str] = []
    seen: set[tuple[str, str]] = set()
    stack = [(r, "") for r in roots]
    while stack:
        requirement, extra = stack.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        metadata = carried.get(name)
        if metadata is None or not requirement.specifier.contains(metadata["Version"], prereleases=True):
            missing.append(str(requirement))
            continue
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                stack += [(Requirement(r), wanted) for r in metadata.get_all("Requires-Dist") or []]
    return missing


# --- the linux bundle, run here -------------------------------------------------------------------------------------


PROBE = (
    "import sys, sysconfig;"
    "print(sys.implementation.name, *sys.version_info[:2], sysconfig.get_config_var('Py_GIL_DISABLED'))"
)


@functools.cache
def local_pythons() -> dict[tuple[int, int], str]:
    """(major, minor) → one CPython of that version on this machine (system ones first, then pyenv's, then PATH)."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [
        *sorted(glob.glob("/usr/bin/python3.*[0-9]")),
        *sorted(glob.glob(f"{pyenv}/versions/*/bin/python3")),
        *filter(None, (shutil.which(f"python3.{minor}") for minor in range(6, 16))),
    ]
    found: dict[tuple[int, int], str] = {}
    for candidate in dict.fromkeys(os.path.realpath(c) for c in candidates):
        done = run(candidate, "-I", "-c", PROBE)
        name, major, minor, free_threaded = (done.stdout.split() or ["", "0", "0", ""])[:4]
        if done.returncode == 0 and name == "cpython" and free_threaded in ("None", "0"):
            found.setdefault((int(major), int(minor)), candidate)
    return found


def supported_pythons() -> dict[tuple[int, int], str]:
    found = {v: p for v, p in local_pythons().items() if f"{v[0]}.{v[1]}" in CARRIED}
    if len(found) < 2:
        message = f"need two CPython versions out of {', '.join(CARRIED)} on this machine, found {sorted(found)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def unpacked_linux(tmp_path: Path) -> Path:
    root = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle_path("linux-x86_64")) as archive:
        archive.extractall(root)
    return root


IMPORT_EVERYTHING = """
import importlib, os, pkgutil, sys
server = sys.argv[1]
sys.path.insert(0, server)
import main
main.use_bundled_libraries(os.path.join(server, "lib"))
import hajatek_mcp, pydantic_core
modules = [m.name for m in pkgutil.walk_packages(hajatek_mcp.__path__, "hajatek_mcp.")]
for name in modules:
    if name != "hajatek_mcp.__main__":
        importlib.import_module(name)
version_folder = os.path.join(server, "lib", "cp%d%d" % sys.version_info[:2])
assert pydantic_core.__file__.startswith(version_folder), pydantic_core.__file__
print(len(modules))
"""


def test_the_linux_bundle_imports_every_module_under_each_local_python(unpacked_linux: Path) -> None:
    for (major, minor), python in supported_pythons().items():
        done = run(python, "-I", "-S", "-c", IMPORT_EVERYTHING, str(unpacked_linux / "server"))  # -S: no site-packages
        assert done.returncode == 0, f"Python {major}.{minor} ({python}):\n{done.stderr}"
        assert int(done.stdout) > 20


def test_a_python_the_bundle_does_not_carry_gets_one_line_saying_what_to_do(unpacked_linux: Path) -> None:
    others = {v: p for v, p in local_pythons().items() if f"{v[0]}.{v[1]}" not in CARRIED and v >= (3, 6)}
    if not others:
        pytest.skip("no CPython 3.6-3.10 or 3.15+ on this machine")
    for (major, minor), python in others.items():
        done = run(python, str(unpacked_linux / "server" / "main.py"))
        assert done.returncode == 1
        assert done.stdout == ""  # stdout belongs to the MCP protocol
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("hajatek-mcp: this bundle carries CPython 3.11-3.14 for Linux x86_64")
        assert f"CPython {major}.{minor}." in lines[0]
        assert "install Python 3.11 to 3.14 from python.org" in lines[0]


async def test_the_linux_bundle_starts_with_a_bare_system_python_and_answers(
    unpacked_linux: Path, tmp_path: Path
) -> None:
    carried = [p for v, p in local_pythons().items() if f"{v[0]}.{v[1]}" in CARRIED]
    bare = next((p for p in carried if not importable(p, "mcp")), None)
    if bare is None:
        message = f"no CPython {CARRIED[0]}-{CARRIED[-1]} without mcp on this machine (found {carried})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    manifest = json.loads((unpacked_linux / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    # Claude Desktop runs the manifest's command ("python3") from PATH: make that the bare interpreter.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / config["command"]).symlink_to(bare)
    # What Claude Desktop fills in: the defaults, with the demo store switched on.
    user_config = {k: json.dumps(v["default"]) if isinstance(v.get("default"), bool) else str(v.get("default", ""))
                   for k, v in manifest["user_config"].items()}  # fmt: skip
    user_config["sandbox"] = "true"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAJATEK_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), *env.get("PATH", "").split(os.pathsep)])
    env.update({k: substitute(v, unpacked_linux, user_config) for k, v in config["env"].items()})
    env["HAJATEK_DATA_DIR"] = str(tmp_path / "data")
    params = StdioServerParameters(
        command=shutil.which(config["command"], path=env["PATH"]) or config["command"],
        args=[substitute(a, unpacked_linux, user_config) for a in config["args"]], env=env, cwd=str(tmp_path),
    )  # fmt: skip
    async with Client(params, mode="legacy") as client:  # legacy: the initialize handshake of today's hosts
        tools = (await client.list_tools()).tools
        store = await client.call_tool("get_store", {})
    assert [t.name for t in tools] == [t["name"] for t in manifest["tools"]]
    assert not store.is_error
    assert store.structured_content is not None
    assert store.structured_content["sandbox"] is True


def importable(python: str, module: str) -> bool:
    return run(python, "-c", f"import {module}").returncode == 0


def run(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # a local interpreter, arguments written here
        [python, *args], capture_output=True, text=True, timeout=120, check=False
    )


def substitute(value: str, dirname: Path, user_config: dict[str, str]) -> str:
    value = value.replace("${__dirname}", str(dirname))
    return re.sub(r"\$\{user_config\.(\w+)\}", lambda m: user_config.get(m.group(1), ""), value)


# --- the entry point's choice, without a build ----------------------------------------------------------------------


@pytest.fixture
def entry_point(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("hajatek_bundle_main", ROOT / "bundle" / "main.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return module


def carrying(lib: Path, sys_platform: str, machine: str, label: str, folders: dict[str, list[str]]) -> Path:
    lib.mkdir(parents=True)
    carried = {"platform": "x", "label": label, "sys_platform": sys_platform, "machine": machine, "python": folders}
    (lib / "bundle.json").write_text(json.dumps(carried))
    return lib


def test_the_entry_point_refuses_another_platform_in_one_line(entry_point: ModuleType, tmp_path: Path) -> None:
    other = "win32" if sys.platform != "win32" else "darwin"
    lib = carrying(
        tmp_path / "lib", other, "x86_64", "Elsewhere x64", {v: ["cp" + v.replace(".", "")] for v in CARRIED}
    )
    with pytest.raises(SystemExit) as refused:
        entry_point.library_folders(str(lib))
    message = str(refused.value.code)
    assert "\n" not in message
    assert message.startswith("hajatek-mcp: this bundle carries CPython 3.11-3.14 for Elsewhere x64; ")
    assert f" on {sys.platform} {entry_point.machine()} ({sys.executable})" in message
    wanted = f"{sys.platform}-{entry_point.machine()}".replace("win32-x86_64", "win32-x64")
    assert f"install the bundle ending in -{wanted}.mcpb instead" in message


def test_the_entry_point_puts_the_matching_folders_first_and_runs_their_pth_files(
    entry_point: ModuleType, tmp_path: Path
) -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    version_folder = "cp" + here.replace(".", "")
    lib = carrying(tmp_path / "lib", sys.platform, entry_point.machine(), "Here", {here: [version_folder, "common"]})
    (lib / version_folder / "win32" / "lib").mkdir(parents=True)
    (lib / "common").mkdir()
    # Like pywin32.pth: a folder to add, and a bootstrap module to import.
    (lib / version_folder / "probe.pth").write_text("win32\nwin32/lib\nimport hajatek_pth_probe\n")
    (lib / version_folder / "win32" / "lib" / "hajatek_pth_probe.py").write_text("ran = True\n")
    try:
        entry_point.use_bundled_libraries(str(lib))
        assert sys.modules["hajatek_pth_probe"].ran is True
    finally:
        sys.modules.pop("hajatek_pth_probe", None)
    folder = lib / version_folder
    expected = [
        entry_point.HERE,
        str(folder),
        str(folder / "win32"),
        str(folder / "win32" / "lib"),
        str(lib / "common"),
    ]
    assert sys.path[:5] == expected
