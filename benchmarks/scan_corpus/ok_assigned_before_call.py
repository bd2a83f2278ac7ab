# expect: ok
def run(items):
    for item in items:
        log = lambda: print(total)
        total = item * 2
        log()
