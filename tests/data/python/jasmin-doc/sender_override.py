"This script will override sender-id"

routable.pdu.params['source_addr'] = '123456789'
