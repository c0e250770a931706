# The TON/NPI example without locking: the connector's defaults win (Jasmin FAQ 3.15.6).
from smpp.pdu.pdu_types import AddrTon, AddrNpi

routable.pdu.params['source_addr_ton'] = AddrTon.ALPHANUMERIC
routable.pdu.params['source_addr_npi'] = AddrNpi.ISDN
