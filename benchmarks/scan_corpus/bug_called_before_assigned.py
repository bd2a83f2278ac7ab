# expect: bug
def run(items):
    for n, item in enumerate(items):
        log = lambda: print(total)
        if n:
            log()
        total = item * 2
