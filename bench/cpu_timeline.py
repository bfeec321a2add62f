"""How busy the machine's cores are while a command runs: where a build leaves a core idle.

    python bench/cpu_timeline.py [--step 0.25] -- python build.py --content C --output O -v

Samples /proc/stat (all cores, the whole machine: run it on an otherwise quiet one) every
`--step` seconds while the command runs, then prints the cores in use in each step, the
command's own output with the second each line came at, and the idle core-seconds: the time
a build with a perfect split of its work over the cores would save. Stages that run in one
process show as steps near 1.0 on a two-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time


def cpu_ticks() -> tuple[int, int]:
    """(all ticks, idle ticks) of all cores since boot."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # idle + iowait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    cores = os.cpu_count() or 1
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[tuple[float, str]] = []

    def collect() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip()))

    reader = threading.Thread(target=collect)
    reader.start()
    busy: list[float] = []
    before = cpu_ticks()
    while proc.poll() is None:
        time.sleep(args.step)
        now = cpu_ticks()
        total, idle = now[0] - before[0], now[1] - before[1]
        busy.append(cores * (total - idle) / total if total else 0.0)
        before = now
    reader.join()
    wall = time.perf_counter() - start
    per_row = 20
    for row in range(0, len(busy), per_row):
        cells = " ".join(f"{b:.1f}" for b in busy[row : row + per_row])
        print(f"{row * args.step:7.2f} s: {cells}")
    for at, line in lines:
        print(f"{at:7.2f} {line}")
    used = sum(busy) * args.step
    print(f"wall {wall:.2f} s, cores busy {used:.2f} core-s of {cores * wall:.2f}, "
          f"idle {cores * wall - used:.2f} core-s (exit {proc.returncode})")  # fmt: skip


if __name__ == "__main__":
    main()
