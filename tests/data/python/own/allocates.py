hog = bytearray(1 << 30)
