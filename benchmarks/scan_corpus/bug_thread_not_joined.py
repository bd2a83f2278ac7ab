# expect: bug
import threading


def make(xs):
    threads = []
    for x in xs:
        t = threading.Thread(target=lambda: print(x))
        threads.append(t)
    for t in threads:
        t.start()
