result = routable.connector.cid == 'sim'
