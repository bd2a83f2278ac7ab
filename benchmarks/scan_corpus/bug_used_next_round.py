# expect: bug
def run(xs):
    prev = None
    for x in xs:
        if prev is not None:
            prev()
        prev = lambda: print(x)
