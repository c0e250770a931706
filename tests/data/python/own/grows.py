# Grows the runtime's heap by 24 MB for one message (then lets it go): the instance that ran it
# is retired after the run, and the next message gets a fresh one.
if routable.pdu.params['destination_addr'].endswith(b'9'):
    hog = bytearray(24 << 20)
    del hog
