# expect: ok
def run(rows, columns):
    for col in columns:
        rows.sort(key=lambda r: r[col])
    return rows
