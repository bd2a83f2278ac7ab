# expect: ok
def run(chunks):
    it = iter(chunks)
    while (chunk := next(it, None)) is not None:
        (lambda: print(chunk))()
