#!/usr/bin/env python3
"""Every target declares what it imports.

Reads the targets and their dependencies from `swift package dump-package`, the `import` lines from each target's
sources, and fails (exit 1) naming the target, the file and the module when a target imports a project target or a
package product it does not declare. SwiftPM builds such code as long as the module arrives transitively, which is
how undeclared imports go unnoticed (its --explicit-target-dependency-import-check did not flag them here).

    scripts/check-imports.py [PACKAGE_DIR]
"""
import json, os, re, subprocess, sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
package = json.loads(subprocess.check_output(["swift", "package", "dump-package"], cwd=root))

# Modules every target may import: the toolchain's own.
SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Darwin", "Musl",
          "Synchronization", "Testing", "XCTest", "_Concurrency", "Swift", "os"}

targets = {t["name"]: t for t in package["targets"]}
IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public |package |internal |private |fileprivate )?import\s+"
                    r"(?:struct |class |enum |func |protocol |typealias |var |let )?(\w+)")

def declared(target):
    names = set()
    for dep in target.get("dependencies", []):
        if "byName" in dep: names.add(dep["byName"][0])
        elif "target" in dep: names.add(dep["target"][0])
        elif "product" in dep: names.add(dep["product"][0])
    return names

failures = []
for name, target in sorted(targets.items()):
    if target["type"] in ("plugin", "macro"): continue
    kind_dir = "Tests" if target["type"] == "test" else "Sources"
    directory = os.path.join(root, target.get("path") or os.path.join(kind_dir, name))
    deps = declared(target)
    for dirpath, _, files in os.walk(directory):
        for f in sorted(files):
            if not f.endswith(".swift"): continue
            path = os.path.join(dirpath, f)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                m = IMPORT.match(line)
                if not m: continue
                module = m.group(1)
                if module in SYSTEM or module in deps or module == name: continue
                failures.append(f"{os.path.relpath(path, root)}:{n}: target {name} imports {module} "
                                f"but does not declare it in Package.swift")

for f in failures: print(f)
print(f"imports: {len(failures)} undeclared in {len(targets)} targets")
sys.exit(1 if failures else 0)
