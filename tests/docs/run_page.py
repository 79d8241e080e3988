"""Run one page's blocks in order, as a reader would: ``python run_page.py BLOCKS.json``.

Started in an empty folder by ``test_snippets.py``. Python blocks run in this process's
``__main__`` namespace, shared by the page's blocks (each from a file of its own, so
tracebacks, ``inspect`` and pipelines see a real script); shell blocks run in
``bash -euo pipefail`` in the same folder; a block the page says to save is written
to its file. The first failure prints ``FAILED AT
page:line`` and exits 1.
"""


def _main() -> int:
    import json
    import subprocess
    import sys
    import traceback
    from pathlib import Path

    main = sys.modules["__main__"]
    for n, block in enumerate(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))):
        print(f"--- {block['where']} ({block['lang']})", flush=True)
        if block["file"]:
            Path(block["file"]).parent.mkdir(parents=True, exist_ok=True)
            Path(block["file"]).write_text(block["code"], encoding="utf-8")
        elif block["lang"] == "python":
            script = Path(f"_block_{n}.py").resolve()
            script.write_text(block["code"], encoding="utf-8")
            main.__file__ = str(script)
            try:
                exec(compile(block["code"], str(script), "exec"), vars(main))
            except BaseException:  # a failed block is reported, whatever it raised
                traceback.print_exc()
                print(f"FAILED AT {block['where']}", flush=True)
                return 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        else:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block["script"]], check=False)
            if done.returncode != 0:
                print(f"FAILED AT {block['where']} (exit status {done.returncode})", flush=True)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
