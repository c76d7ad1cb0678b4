"""glibc heap controls: arena cap and returning freed heap to the system (Linux), no-ops elsewhere."""

import subprocess
import sys
import textwrap

import pytest

from engine import process_memory

LINUX_GLIBC = process_memory._glibc() is not None


def test_an_arena_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        process_memory.cap_malloc_arenas(0)


def test_other_platforms_do_nothing_and_say_so(monkeypatch):
    process_memory._glibc.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert process_memory.cap_malloc_arenas(2) is False
        assert process_memory.release_free_heap() is False
    finally:
        monkeypatch.undo()
        process_memory._glibc.cache_clear()


@pytest.mark.skipif(not LINUX_GLIBC, reason="glibc only")
def test_freed_heap_stays_resident_until_released():
    # In a fresh process: 300 MB of 64 KB blocks (below the mmap threshold, so inside the heap),
    # all freed but the last one, which pins the top of the heap so glibc cannot shrink it itself.
    script = textwrap.dedent("""
        import ctypes
        from engine.process_memory import release_free_heap

        def rss_mb():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = (ctypes.c_void_p,)
        size, n = 64 * 1024, 4800
        blocks = [libc.malloc(size) for _ in range(n)]
        for b in blocks:
            ctypes.memset(b, 1, size)
        for b in blocks[:-1]:
            libc.free(b)
        before = rss_mb()
        released = release_free_heap()
        print(before, rss_mb(), released)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    before, after, released = out.stdout.split()
    assert released == "True"
    assert float(before) - float(after) > 200, out.stdout


@pytest.mark.skipif(not LINUX_GLIBC, reason="glibc only")
def test_the_arena_cap_is_taken_by_glibc():
    script = "from engine.process_memory import cap_malloc_arenas as c; print(c(2))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "True"


def test_the_trimmer_releases_on_growth_no_more_often_than_its_gap_and_at_least_every_interval():
    now, rss, calls = [100.0], [800.0], []

    def release():
        calls.append(now[0])
        rss[0] = 810.0  # what a trim gives back
        return True

    trimmer = process_memory.HeapTrimmer(every_s=30.0, grow_mb=64.0, min_gap_s=2.0, clock=lambda: now[0],
                                         release=release, rss_mb=lambda: rss[0])
    ticks = []
    for t, mb in ((101.0, 900.0), (102.0, 900.0), (104.0, 850.0), (106.0, 880.0), (108.0, 860.0), (136.0, 860.0)):
        now[0], rss[0] = t, mb
        ticks.append(trimmer.tick())
    # 101: grown but inside the gap · 102: grown 100 MB → trim (base 810) · 104: +40 → no · 106: +70 → trim
    # 108: +50 → no · 136: 30 s since the last trim → trim
    assert ticks == [False, True, False, True, False, True]
    assert calls == [102.0, 106.0, 136.0] and trimmer.trims == 3 and trimmer.seconds >= 0


def test_trim_settings_must_make_sense():
    with pytest.raises(ValueError, match="min_gap_s"):
        process_memory.HeapTrimmer(every_s=1.0, min_gap_s=2.0)
    with pytest.raises(ValueError, match="growth"):
        process_memory.HeapTrimmer(grow_mb=0)


@pytest.mark.skipif(not LINUX_GLIBC, reason="Linux only")
def test_resident_memory_is_read_from_the_kernel():
    import psutil

    assert abs(process_memory.resident_mb() - psutil.Process().memory_info().rss / 2**20) < 20
