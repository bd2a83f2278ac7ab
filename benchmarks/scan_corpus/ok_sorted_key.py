# expect: ok
def run(rows, columns):
    out = []
    for col in columns:
        out.append(sorted(rows, key=lambda r: r[col]))
    return out
