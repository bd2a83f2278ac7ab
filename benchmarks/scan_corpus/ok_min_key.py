# expect: ok
def run(rows, columns):
    return [min(rows, key=lambda r: r[col]) for col in columns]
