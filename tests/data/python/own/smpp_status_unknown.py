smpp_status = 1234
