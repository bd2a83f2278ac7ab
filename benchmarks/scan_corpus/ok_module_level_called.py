# expect: ok
for level in range(3):
    print((lambda: level)())
