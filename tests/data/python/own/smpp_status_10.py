smpp_status = 10
