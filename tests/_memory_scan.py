"""Program text shared by the memory-scanning tests: ``scan(pid, needles)`` counts each needle in the readable
memory of process ``pid`` ("self" for the caller), or names the error that kept it out."""

SCAN_FUNCTION = """
def scan(pid, needles):
    counts = [0] * len(needles)
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
            for line in maps:
                fields = line.split()
                if "r" not in fields[1]:
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                try:
                    mem.seek(start)
                    data = mem.read(end - start)
                except (OSError, ValueError, OverflowError):
                    continue
                counts = [count + data.count(needle) for count, needle in zip(counts, needles)]
    except OSError as exc:
        return type(exc).__name__
    return counts
"""
