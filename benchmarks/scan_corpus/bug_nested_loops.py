# expect: bug
def make(rows):
    out = []
    for row in rows:
        for col in row:
            out.append(lambda: (row, col))
    return out
