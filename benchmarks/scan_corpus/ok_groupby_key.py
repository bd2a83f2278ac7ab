# expect: ok
import itertools


def run(rows, columns):
    out = {}
    for col in columns:
        for key, group in itertools.groupby(rows, key=lambda r: r[col]):
            out[col, key] = list(group)
    return out
