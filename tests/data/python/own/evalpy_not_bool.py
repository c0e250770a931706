result = 'yes'
