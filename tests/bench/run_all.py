"""`make bench`: run every tests/bench/bench_*.py module's `main()` and print its figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    sys.path.insert(0, str(here))
    for path in sorted(here.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        print(f"\n=== {path.stem} ===", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
