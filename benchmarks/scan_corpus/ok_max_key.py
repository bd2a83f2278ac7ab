# expect: ok
def run(rows, columns):
    best = []
    for col in columns:
        best.append(max(rows, key=lambda r: r[col]))
    return best
