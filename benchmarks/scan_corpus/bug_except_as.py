# expect: bug
def make(jobs):
    out = []
    for job in jobs:
        try:
            job()
        except ValueError as exc:
            err = exc
            out.append(lambda: err)
    return out
