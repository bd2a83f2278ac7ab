# expect: ok
def run(n):
    i = 0
    while i < n:
        show = lambda: print(i)
        show()
        i += 1
