smpp_status = 0
extra['message_id'] = 'intercepted-' + routable.pdu.params['destination_addr'].decode()
